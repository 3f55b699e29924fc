#!/usr/bin/env python3
"""Calls sip:echo with pjsua2 (a real SIP stack), plays speech into the call, records what comes back, and checks
that the returned audio is the same speech: envelope correlation and round-trip delay.

Usage: pjsua_echo.py SIP_URI WORKDIR [--codec PCMU/8000] [--seconds 6]
Exit 0 when the echo matches; prints correlation and delay either way.
"""
import argparse
import os
import subprocess
import sys

from echo_check import compare
from softphone import call_and_record


def make_speech(path_8k):
    raw = path_8k + ".raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", raw,
                    "Hello, this is the voice era echo test. One two three four five."], check=True)
    subprocess.run(["sox", raw, "-r", "8000", "-c", "1", "-b", "16", path_8k, "pad", "0.3", "1.5"], check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("workdir")
    parser.add_argument("--codec", default="PCMU/8000")
    parser.add_argument("--seconds", type=float, default=7.0)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    play = os.path.join(args.workdir, "speech8k.wav")
    record = os.path.join(args.workdir, "echo-%s.wav" % args.codec.replace("/", "-"))
    make_speech(play)

    if not call_and_record(args.uri, play, record, args.seconds, args.codec):
        print("FAIL: call was never confirmed")
        return 1
    # pjsua's own jitter buffer and bridge add ~100-200 ms; the server's budget is 300 ms on top.
    return compare(play, record, args.codec, max_round_trip_ms=600)

if __name__ == "__main__":
    sys.exit(main())
