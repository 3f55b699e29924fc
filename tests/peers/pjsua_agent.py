#!/usr/bin/env python3
"""Calls the built-in `bench` agent with pjsua2 and checks its behaviour on the recording of what it sent:
- the greeting (a 440 Hz tone from the stand-in TTS) starts within 1.5 s of the answer;
- after the caller's first utterance ends, the reply tone comes;
- when the caller speaks over that reply, the reply stops within 300 ms (barge-in).

Usage: pjsua_agent.py SIP_URI WORKDIR
"""
import math
import os
import subprocess
import sys

from echo_check import read_wav, verdict, write_wav
from softphone import call_and_record

PLAY_DELAY = 1.5  # seconds after answer: the greeting (360 ms) is over by then
FRAME_MS = 20


def make_speech(workdir):
    """One espeak utterance at 8 kHz, trimmed to where it is audible."""
    raw = os.path.join(workdir, "utterance.wav")
    one = os.path.join(workdir, "utterance8k.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", raw, "What time is it over there now?"], check=True)
    subprocess.run(["sox", raw, "-r", "8000", "-c", "1", "-b", "16", one], check=True)
    rate, samples = read_wav(one)
    loud = [i for i, x in enumerate(samples) if abs(x) > 500]
    return one, rate, samples[loud[0]:loud[-1] + 1]


def tone_frames(samples, rate):
    """Per 20 ms frame: True when a 440 Hz tone dominates (Goertzel power vs total power)."""
    n = rate * FRAME_MS // 1000
    k = 440.0 * n / rate
    coeff = 2 * math.cos(2 * math.pi * k / n)
    flags = []
    for i in range(0, len(samples) - n, n):
        frame = samples[i:i + n]
        s1 = s2 = 0.0
        for x in frame:
            s0 = x + coeff * s1 - s2
            s2, s1 = s1, s0
        power = s1 * s1 + s2 * s2 - coeff * s1 * s2
        total = sum(x * x for x in frame) * n / 2 or 1.0
        flags.append(power / total > 0.5 and total > n * n * 100)
    return flags


def segments(flags, max_gap_frames=3):
    """(start_s, end_s) of runs of True frames; gaps up to `max_gap_frames` (a lost or jittered frame, the
    seam between TTS clauses) do not split a run."""
    out, start, last = [], None, None
    for i, f in enumerate(flags):
        if not f:
            continue
        if start is not None and i - last > max_gap_frames + 1:
            out.append((start * FRAME_MS / 1000, (last + 1) * FRAME_MS / 1000))
            start = None
        if start is None:
            start = i
        last = i
    if start is not None:
        out.append((start * FRAME_MS / 1000, (last + 1) * FRAME_MS / 1000))
    return out


def main():
    uri, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    one, rate, utterance = make_speech(workdir)
    u_len = len(utterance) / rate
    # Speak again `gap` after the first utterance ends: the reply starts ~0.4 s (VAD stop time) after it, so the
    # second utterance lands ~0.15 s into the 720 ms reply.
    gap = 0.55
    silence = lambda s: [0] * int(s * rate)
    script = silence(0.3) + list(utterance) + silence(gap) + list(utterance) + silence(2.0)
    play = os.path.join(workdir, "script8k.wav")
    write_wav(play, rate, script)
    record = os.path.join(workdir, "agent.wav")
    seconds = PLAY_DELAY + len(script) / rate
    if not call_and_record(uri, play, record, seconds, play_delay=PLAY_DELAY):
        print("FAIL: call was never confirmed")
        return 1
    rec_rate, recorded = read_wav(record)
    tones = segments(tone_frames(recorded, rec_rate))
    u1_start = PLAY_DELAY + 0.3
    u1_end = u1_start + u_len
    u2_start = u1_end + gap
    print("utterance %.2f s; caller speaks %.2f-%.2f and from %.2f; agent tones: %s"
          % (u_len, u1_start, u1_end, u2_start, ", ".join("%.2f-%.2f" % t for t in tones)))
    failures = []
    if not tones or tones[0][0] > 1.5:
        failures.append("greeting did not start within 1.5 s of the answer")
    replies = [t for t in tones if t[0] > u1_end]
    if not replies:
        failures.append("no reply after the caller's first utterance")
    else:
        reply = replies[0]
        print("reply starts %.0f ms after the caller stopped" % ((reply[0] - u1_end) * 1000))
        if reply[0] >= u2_start:
            failures.append("the reply started only after the barge-in began; the test's timing is off")
        elif reply[1] - reply[0] >= 0.70:
            failures.append("the reply played to its end: no barge-in")
        else:
            stop_after = (reply[1] - u2_start) * 1000
            print("reply stopped %.0f ms after the caller started speaking over it" % stop_after)
            if stop_after > 300:
                failures.append("barge-in took %.0f ms (budget 300 ms)" % stop_after)
    return verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
