"""Compares audio sent into an echo call with what came back: envelope correlation and round-trip delay.

Usage as a script: echo_check.py SENT.wav RECEIVED.wav LABEL [MAX_ROUND_TRIP_MS]
"""
import array
import math
import sys
import wave


def read_wav(path):
    with wave.open(path, "rb") as w:
        rate, width, channels, n = w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()
        data = array.array("h", w.readframes(n))
    if channels > 1:
        data = array.array("h", data[::channels])
    assert width == 2, "expected 16-bit audio"
    return rate, data


def write_wav(path, rate, samples):
    """A mono 16-bit WAV of `samples`."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(array.array("h", samples).tobytes())


def envelope(samples, rate, frame_ms=10):
    step = max(1, rate * frame_ms // 1000)
    out = []
    for i in range(0, len(samples) - step, step):
        chunk = samples[i:i + step]
        out.append(math.sqrt(sum(s * s for s in chunk) / step))
    return out


def best_lag(ref, sig, max_lag):
    """Normalised cross-correlation of two envelopes; returns (correlation, lag in frames)."""
    def norm(x):
        mean = sum(x) / len(x)
        d = [v - mean for v in x]
        s = math.sqrt(sum(v * v for v in d)) or 1.0
        return [v / s for v in d]
    best = (-1.0, 0)
    for lag in range(0, max_lag):
        n = min(len(ref), len(sig) - lag)
        if n < 50:
            break
        a, b = norm(ref[:n]), norm(sig[lag:lag + n])
        c = sum(x * y for x, y in zip(a, b))
        if c > best[0]:
            best = (c, lag)
    return best


def verdict(failures):
    """Prints each failure as a `FAIL:` line, or `OK` when there is none (what the Rust tests look for); the
    script's exit code."""
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("OK")
    return 1 if failures else 0


def compare(sent_path, received_path, label, max_round_trip_ms=600, min_correlation=0.6):
    rate_s, sent = read_wav(sent_path)
    rate_r, received = read_wav(received_path)
    env_s, env_r = envelope(sent, rate_s), envelope(received, rate_r)
    corr, lag = best_lag(env_s, env_r, 150)
    print("codec=%s correlation=%.3f round_trip_ms=%d received_s=%.1f" % (label, corr, lag * 10, len(received) / rate_r))
    if corr < min_correlation:
        print("FAIL: echoed audio does not match the audio sent")
        return 1
    if lag * 10 > max_round_trip_ms:
        print("FAIL: round trip of %d ms" % (lag * 10))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else 600
    sys.exit(compare(sys.argv[1], sys.argv[2], sys.argv[3], limit))
