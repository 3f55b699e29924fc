#!/usr/bin/env python3
"""Calls the `demo` agent (local models) with pjsua2: waits for the greeting, asks a question in espeak
speech, and records what the agent says. Prints the timing of the greeting and of the reply, measured on the
recording; the Rust test then transcribes the recording and reads the call record.

Usage: pjsua_demo.py SIP_URI WORKDIR QUESTION [CODEC]

CODEC is a pjsua codec id (default G722/16000). The test calls in wideband because it checks the words with
Whisper tiny, which mishears narrowband espeak speech even when the samples arrive intact ("A week is 7 days."
resampled to 8 kHz by sox alone comes back as "We can have a name."); the narrowband path's samples are checked
sample for sample by the echo tests.
"""
import os
import subprocess
import sys

from echo_check import read_wav, verdict, write_wav
from softphone import call_and_record

FRAME_MS = 20


def voiced_segments(samples, rate, threshold=600, max_gap_s=0.6):
    """(start_s, end_s) of audible runs in the recording (gaps shorter than `max_gap_s` do not split)."""
    n = rate * FRAME_MS // 1000
    out, start, last = [], None, None
    for i in range(0, len(samples) - n, n):
        frame = samples[i:i + n]
        rms = (sum(x * x for x in frame) / n) ** 0.5
        t = i / rate
        if rms < threshold:
            continue
        if start is not None and t - last > max_gap_s:
            out.append((start, last + FRAME_MS / 1000))
            start = None
        if start is None:
            start = t
        last = t
    if start is not None:
        out.append((start, last + FRAME_MS / 1000))
    return out


def main():
    uri, workdir, question = sys.argv[1], sys.argv[2], sys.argv[3]
    codec = sys.argv[4] if len(sys.argv) > 4 else "G722/16000"
    play_rate = int(codec.split("/")[1])
    os.makedirs(workdir, exist_ok=True)
    raw = os.path.join(workdir, "question.wav")
    resampled = os.path.join(workdir, "question-%d.wav" % play_rate)
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", raw, question], check=True)
    subprocess.run(["sox", raw, "-r", str(play_rate), "-c", "1", "-b", "16", resampled], check=True)
    rate, samples = read_wav(resampled)
    loud = [i for i, x in enumerate(samples) if abs(x) > 500]
    q = samples[loud[0]:loud[-1] + 1]
    # The greeting takes ~4 s of espeak speech; ask after it, then listen long enough for a local-model reply.
    ask_at = 5.5
    script = [0] * int(ask_at * rate) + list(q) + [0] * int(14.0 * rate)
    play = os.path.join(workdir, "script.wav")
    write_wav(play, rate, script)
    record = os.path.join(workdir, "agent.wav")
    if not call_and_record(uri, play, record, len(script) / rate, codec=codec):
        print("FAIL: call was never confirmed")
        return 1
    rec_rate, recorded = read_wav(record)
    speech = voiced_segments(recorded, rec_rate)
    asked_end = ask_at + len(q) / rate
    print("question %.2f-%.2f s; agent audio: %s" % (ask_at, asked_end, ", ".join("%.2f-%.2f" % s for s in speech)))
    failures = []
    if not speech or speech[0][0] > 1.5:
        failures.append("greeting did not start within 1.5 s of the answer")
    replies = [s for s in speech if s[0] > asked_end]
    if not replies:
        failures.append("no spoken reply after the question")
    else:
        print("reply starts %.0f ms after the caller stopped" % ((replies[0][0] - asked_end) * 1000))
        # Only the reply, for the test to transcribe.
        reply_path = os.path.join(workdir, "reply.wav")
        start = int(replies[0][0] * rec_rate)
        write_wav(reply_path, rec_rate, recorded[start:])
        greeting_path = os.path.join(workdir, "greeting.wav")
        write_wav(greeting_path, rec_rate, recorded[:int(asked_end * rec_rate)])
    return verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
