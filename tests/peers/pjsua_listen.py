#!/usr/bin/env python3
"""Calls an agent with pjsua2 and says nothing: records what the agent says, from the answer until the agent
hangs up, into WORKDIR/heard.wav, for the Rust test to transcribe. Prints OK when the call was answered, the
agent spoke, and the agent (not this script's deadline) ended the call.

Usage: pjsua_listen.py SIP_URI WORKDIR [MAX_SECONDS] [CODEC]

CODEC is a pjsua codec id (default G722/16000): the test checks the words with Whisper, which hears wideband
speech far better than narrowband (see pjsua_demo.py).
"""
import os
import sys

from echo_check import read_wav, verdict, write_wav
from pjsua_demo import voiced_segments
from softphone import call_and_record


def main():
    uri, workdir = sys.argv[1], sys.argv[2]
    max_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    codec = sys.argv[4] if len(sys.argv) > 4 else "G722/16000"
    rate = int(codec.split("/")[1])
    os.makedirs(workdir, exist_ok=True)
    quiet = os.path.join(workdir, "quiet.wav")
    write_wav(quiet, rate, [0] * int(max_seconds * rate))
    record = os.path.join(workdir, "heard.wav")
    if not call_and_record(uri, quiet, record, max_seconds, codec=codec):
        print("FAIL: call was never confirmed")
        return 1
    rec_rate, recorded = read_wav(record)
    length = len(recorded) / rec_rate
    speech = voiced_segments(recorded, rec_rate)
    print("recorded %.2f s; agent audio: %s" % (length, ", ".join("%.2f-%.2f" % s for s in speech)))
    failures = []
    if not speech:
        failures.append("the agent said nothing")
    # The recording ends when the call does: well before the deadline means the agent hung up.
    if length >= max_seconds - 1.0:
        failures.append("the agent did not hang up within %.0f s" % max_seconds)
    return verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
