#!/usr/bin/env python3
"""Barge-in as a caller hears it: pjsua2 calls an agent on real models, asks a question with a long answer,
talks over the answer, and records both sides. The script reacts to what it hears (it reads its own recording
of the agent as it grows): it asks once the greeting is over, and talks over the reply once the reply has
played for `--talk-over-after` seconds and the agent has then spoken `--mid-clause` seconds without a pause
(so that the caller's onset lands inside a clause, not where the agent would have stopped anyway).
Afterwards it measures, on the recordings alone:

- the caller's onset: the first voiced sample of the interruption in the caller's own recording;
- the agent's stop: the end of the agent's last voiced frame between that onset and the end of the caller's
  interruption (the agent is quiet from then until the caller has finished);
- the answer: the agent's first voiced run after the caller's interruption ended.

Both recordings start at the same conference tick (the caller's is fed a looping silence so that it runs
continuously: pjmedia writes a recorder's frames only while something transmits to it), so their timelines
are one timeline.

Prints `barge-in stop: N ms after the caller's onset` and `OK` (or `FAIL: ...` lines). The numbers are
measured, not judged, beyond generous sanity bounds (`--max-stop-ms`): the figures go to bench/results.

With `--cough`, INTERRUPTION is not said: the caller coughs over the reply instead (a 300 ms burst made with
sox, `cough()`), which must pause the agent but not cut it. The script then listens until the reply is over
and measures: the agent's pause (from the end of its voiced run at the cough to its next voiced frame), that
it spoke again after it, and the voiced seconds of the whole reply as heard (`reply voiced: N s`), for the
test to compare with the reply's text spoken without interruption.

Usage: pjsua_barge_in.py SIP_URI WORKDIR QUESTION INTERRUPTION [--codec G722/16000] [--max-stop-ms 1500]
                         [--mid-clause 0.6] [--cough]
"""
import argparse
import os
import struct
import subprocess
import sys
import time

import pjsua2 as pj

from echo_check import read_wav, verdict, write_wav

FRAME_MS = 20
# A 20 ms frame louder than this RMS (16-bit) is the agent speaking (Piper's speech sits at several thousand;
# the line's silence, comfort noise and concealment stay well below).
VOICED_RMS = 600
# The agent's greeting is over once it has been quiet this long.
GREETING_QUIET_S = 1.2
# Longest pause inside one spoken reply (between clauses) that does not end it.
REPLY_GAP_S = 0.6
# Longest gap between words inside a clause (stop consonants, word joins): a longer one is a pause.
WORD_GAP_S = 0.12
# The reply is over once the agent has been quiet this long after speaking again (under load a clause's
# synthesis has come 7.5 s after the one before).
REPLY_OVER_QUIET_S = 10.0


def espeak(workdir, name, text, rate):
    """`text` spoken by espeak-ng at `rate`, trimmed to where it is audible."""
    raw = os.path.join(workdir, name + "-raw.wav")
    out = os.path.join(workdir, name + ".wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", raw, text], check=True)
    subprocess.run(["sox", raw, "-r", str(rate), "-c", "1", "-b", "16", out], check=True)
    _, samples = read_wav(out)
    loud = [i for i, x in enumerate(samples) if abs(x) > 500]
    write_wav(out, rate, samples[loud[0]:loud[-1] + 1])
    return out, (loud[-1] + 1 - loud[0]) / rate


def cough(workdir, rate):
    """A 300 ms voiced cough: pink noise and a 200 Hz glottal buzz through two formants (500 and 1500 Hz, an
    open "uh"), with a sharp onset and a decaying body, made with sox. Silero hears it as speech whatever state
    the call left it in; the unvoiced burst this peer used to make (noise and a 130 Hz buzz through one 900 Hz
    band) paused the agent only through the state the VAD keeps frozen over digital silence, and in one run of
    several paused nothing (bench/results/barge-in.md, session 18). No words: the recogniser gives it none, or
    a sentence too long for its 0.3 s of voice."""
    noise, buzz, f1, f2, mix, out = (os.path.join(workdir, name) for name in (
        "cough-noise.wav", "cough-buzz.wav", "cough-f1.wav", "cough-f2.wav", "cough-mix.wav", "cough.wav"))
    sox = ["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16"]
    subprocess.run(sox + [noise, "synth", "0.3", "pinknoise"], check=True)
    subprocess.run(sox + [buzz, "synth", "0.3", "sawtooth", "200"], check=True)
    subprocess.run(["sox", buzz, f1, "bandpass", "500", "3q"], check=True)
    subprocess.run(["sox", buzz, f2, "bandpass", "1500", "4q"], check=True)
    subprocess.run(["sox", "-m", "-v", "1.0", f1, "-v", "0.6", f2, "-v", "0.4", noise, mix], check=True)
    subprocess.run(["sox", mix, out, "fade", "t", "0.01", "0.3", "0.2", "norm", "-4"], check=True)
    _, samples = read_wav(out)
    return out, len(samples) / rate


def frame_levels(samples, rate):
    """RMS of each 20 ms frame."""
    n = rate * FRAME_MS // 1000
    return [(sum(x * x for x in samples[i:i + n]) / n) ** 0.5 for i in range(0, len(samples) - n + 1, n)]


def voiced_runs(levels, max_gap_s=REPLY_GAP_S):
    """(start_s, end_s) of voiced runs; gaps up to `max_gap_s` do not split a run."""
    frame_s = FRAME_MS / 1000
    out, start, last = [], None, None
    for i, level in enumerate(levels):
        if level < VOICED_RMS:
            continue
        t = i * frame_s
        if start is not None and t - last > max_gap_s:
            out.append((start, last + frame_s))
            start = None
        if start is None:
            start = t
        last = t
    if start is not None:
        out.append((start, last + frame_s))
    return out


class LiveRecording:
    """Reads a pjmedia WAV recording while it is being written (its data follows a 44-byte header and is
    flushed in blocks of a few kilobytes): the levels of the 20 ms frames written so far."""

    def __init__(self, path, rate):
        self.path, self.frame_bytes = path, rate * FRAME_MS // 1000 * 2
        self.offset, self.levels = 44, []

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.levels
        whole = len(data) // self.frame_bytes * self.frame_bytes
        for i in range(0, whole, self.frame_bytes):
            frame = struct.unpack("<%dh" % (self.frame_bytes // 2), data[i:i + self.frame_bytes])
            self.levels.append((sum(x * x for x in frame) / len(frame)) ** 0.5)
        self.offset += whole
        return self.levels

    def seconds(self):
        return len(self.levels) * FRAME_MS / 1000

    def quiet_for(self):
        """Seconds since the last voiced frame (None: nothing voiced yet)."""
        voiced = [i for i, level in enumerate(self.levels) if level >= VOICED_RMS]
        if not voiced:
            return None
        return (len(self.levels) - 1 - voiced[-1]) * FRAME_MS / 1000

    def run_s(self):
        """Seconds the agent has been speaking without a pause (gaps up to WORD_GAP_S are inside a clause)
        up to the newest frame; 0 when that frame is quiet."""
        if not self.levels or self.levels[-1] < VOICED_RMS:
            return 0.0
        gap_frames, quiet, start = int(WORD_GAP_S * 1000 / FRAME_MS), 0, len(self.levels) - 1
        for i in range(len(self.levels) - 1, -1, -1):
            if self.levels[i] >= VOICED_RMS:
                quiet, start = 0, i
            else:
                quiet += 1
                if quiet > gap_frames:
                    break
        return (len(self.levels) - start) * FRAME_MS / 1000

    def voiced_since(self, t):
        """Voiced seconds after `t` (seconds into the recording)."""
        first = int(t * 1000 / FRAME_MS)
        return sum(FRAME_MS / 1000 for level in self.levels[first:] if level >= VOICED_RMS)


class Call(pj.Call):
    def __init__(self, acc, workdir):
        super().__init__(acc)
        self.agent_path = os.path.join(workdir, "agent.wav")
        self.caller_path = os.path.join(workdir, "caller.wav")
        self.silence_path = os.path.join(workdir, "silence.wav")
        self.confirmed = self.disconnected = False
        self.keep = []  # players and recorders stay alive until the call ends

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            agent = pj.AudioMediaRecorder()
            agent.createRecorder(self.agent_path)
            caller = pj.AudioMediaRecorder()
            caller.createRecorder(self.caller_path)
            silence = pj.AudioMediaPlayer()
            silence.createPlayer(self.silence_path)  # loops
            self.getAudioMedia(-1).startTransmit(agent)
            silence.startTransmit(caller)
            self.caller_recorder = caller
            self.keep += [agent, caller, silence]
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def say(self, path):
        """Plays `path` into the call once, and into the caller's own recording."""
        player = pj.AudioMediaPlayer()
        player.createPlayer(path, pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(self.getAudioMedia(-1))
        player.startTransmit(self.caller_recorder)
        self.keep.append(player)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("workdir")
    parser.add_argument("question")
    parser.add_argument("interruption")
    parser.add_argument("--codec", default="G722/16000")
    parser.add_argument("--talk-over-after", type=float, default=0.2)
    parser.add_argument("--max-stop-ms", type=float, default=1500)
    parser.add_argument("--mid-clause", type=float, default=0.6,
                        help="talk over only once the agent has spoken this long without a pause")
    parser.add_argument("--cough", action="store_true", help="cough over the reply instead of talking")
    parser.add_argument("--timeout", type=float, default=150)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    rate = 16000  # pjsua's conference bridge: players and recorders run at its rate
    question, question_s = espeak(args.workdir, "question", args.question, rate)
    if args.cough:
        interruption, interruption_s = cough(args.workdir, rate)
    else:
        interruption, interruption_s = espeak(args.workdir, "interruption", args.interruption, rate)
    write_wav(os.path.join(args.workdir, "silence.wav"), rate, [0] * rate)

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.clockRate = rate
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for c in ep.codecEnum2():
        ep.codecSetPriority(c.codecId, 255 if c.codecId.startswith(args.codec) else 0)
    acc = pj.Account()
    acfg = pj.AccountConfig()
    acfg.idUri = "sip:pjsua@127.0.0.1"
    acc.create(acfg)
    call = Call(acc, args.workdir)
    call.makeCall(args.uri, pj.CallOpParam(True))

    live = LiveRecording(call.agent_path, rate)
    step, asked_at, talked_at, done_at = "greeting", None, None, None
    reply_from, run_at_onset = None, None
    failures = []
    deadline = time.time() + args.timeout
    while time.time() < deadline and not call.disconnected:
        ep.libHandleEvents(10)
        if not call.confirmed:
            continue
        live.poll()
        now = live.seconds()
        if step == "greeting":
            quiet = live.quiet_for()
            if quiet is not None and quiet >= GREETING_QUIET_S:
                call.say(question)
                step, asked_at = "asking", now
        elif step == "asking":
            # The reply: voiced audio after the question has been said.
            if now > asked_at + question_s and live.voiced_since(asked_at + question_s) > 0:
                reply_from = reply_from or now
                # Inside a clause: the agent has been speaking a while without a pause (or, with clauses
                # too short for that, once the reply has gone on long enough).
                in_clause = live.run_s() >= args.mid_clause or now - reply_from >= args.talk_over_after + 8
                if now - reply_from >= args.talk_over_after and in_clause:
                    call.say(interruption)
                    step, talked_at, run_at_onset = "talking over", now, live.run_s()
        elif step == "talking over":
            if now > talked_at + interruption_s:
                step = "awaiting answer"
        elif step == "awaiting answer" and args.cough:
            # The reply plays on to its end: the agent spoke again after the cough and has since been quiet.
            quiet = live.quiet_for()
            if live.voiced_since(talked_at + interruption_s) >= 0.5 and quiet is not None and \
                    quiet >= REPLY_OVER_QUIET_S:
                break
            if now > talked_at + 90:
                failures.append("the reply did not end within 90 s of the cough")
                break
        elif step == "awaiting answer":
            answered = live.voiced_since(talked_at + interruption_s) >= 0.5
            if answered and done_at is None:
                done_at = now + 1.0
            if (done_at is not None and now >= done_at) or now > talked_at + interruption_s + 20:
                break
    if step in ("greeting", "asking"):
        failures.append("the script stopped at %r: %s" % (step, "no call" if not call.confirmed else "timed out"))
    if call.confirmed and not call.disconnected:
        call.hangup(pj.CallOpParam(True))
        for _ in range(100):
            ep.libHandleEvents(20)
            if call.disconnected:
                break
    call.keep = []
    del call
    acc.shutdown()
    ep.libDestroy()
    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    if run_at_onset is not None:
        print("talked over after the agent had spoken %.2f s without a pause (as read live)" % run_at_onset)
    return analyse_cough(args, rate) if args.cough else analyse(args, rate, interruption_s)


def run_before(levels, t):
    """Seconds the agent had been speaking without a pause (WORD_GAP_S) at `t`; 0 if quiet then."""
    frame_s = FRAME_MS / 1000
    i = min(int(t / frame_s), len(levels)) - 1
    gap_frames, quiet, start = int(WORD_GAP_S / frame_s), 0, None
    while i >= 0:
        if levels[i] >= VOICED_RMS:
            quiet, start = 0, i
        else:
            quiet += 1
            if quiet > gap_frames:
                break
        i -= 1
    return 0.0 if start is None else t - start * frame_s


def analyse_cough(args, rate):
    """The cough paused the agent, which then spoke on; prints the pause and the reply's voiced seconds."""
    _, agent = read_wav(os.path.join(args.workdir, "agent.wav"))
    _, caller = read_wav(os.path.join(args.workdir, "caller.wav"))
    agent_levels, caller_levels = frame_levels(agent, rate), frame_levels(caller, rate)
    caller_runs = voiced_runs(caller_levels, max_gap_s=0.8)
    print("caller sounds: %s" % ", ".join("%.2f-%.2f" % r for r in caller_runs))
    print("agent speaks: %s" % ", ".join("%.2f-%.2f" % r for r in voiced_runs(agent_levels)))
    if len(caller_runs) < 2:
        print("FAIL: the caller's recording has %d sounds, not a question and a cough" % len(caller_runs))
        return 1
    (_, asked_end), (onset, cough_end) = caller_runs[0], caller_runs[1]
    frame_s = FRAME_MS / 1000
    voiced = [i * frame_s for i, level in enumerate(agent_levels) if level >= VOICED_RMS]
    failures = []
    print("cough %.2f-%.2f s; the agent had spoken %.2f s without a pause at its onset"
          % (onset, cough_end, run_before(agent_levels, onset)))
    if not [t for t in voiced if onset - 0.3 <= t < onset]:
        failures.append("the agent was not speaking in the 300 ms before the cough at %.2f s" % onset)
    # The pause: the first gap longer than a word gap that starts after the onset.
    gap_frames, paused_from, paused_to = int(WORD_GAP_S / frame_s), None, None
    after = [t for t in voiced if t >= onset]
    previous = max([t for t in voiced if t < onset], default=onset - frame_s)
    for t in after:
        if t - previous > (gap_frames + 1) * frame_s:
            paused_from, paused_to = previous + frame_s, t
            break
        previous = t
    if paused_from is None:
        failures.append("the agent did not pause after the cough")
    else:
        print("barge-in pause: from %.2f s (%.0f ms after the cough's onset) to %.2f s (%.0f ms)"
              % (paused_from, (paused_from - onset) * 1000, paused_to, (paused_to - paused_from) * 1000))
        if (paused_from - onset) * 1000 > args.max_stop_ms:
            failures.append("the agent went on %.0f ms over the cough" % ((paused_from - onset) * 1000))
        if sum(frame_s for t in voiced if t >= paused_to) < 0.5:
            failures.append("the agent did not speak on after the pause")
    reply = [t for t in voiced if t >= asked_end]
    if reply:
        print("reply voiced: %.2f s (from %.2f to %.2f s)" % (len(reply) * frame_s, reply[0], reply[-1] + frame_s))
    else:
        failures.append("no reply after the question")
    return verdict(failures)


def analyse(args, rate, interruption_s):
    agent_rate, agent = read_wav(os.path.join(args.workdir, "agent.wav"))
    caller_rate, caller = read_wav(os.path.join(args.workdir, "caller.wav"))
    assert agent_rate == caller_rate == rate, (agent_rate, caller_rate)
    agent_levels, caller_levels = frame_levels(agent, rate), frame_levels(caller, rate)
    caller_runs = voiced_runs(caller_levels, max_gap_s=0.8)
    agent_runs = voiced_runs(agent_levels)
    print("caller speaks: %s" % ", ".join("%.2f-%.2f" % r for r in caller_runs))
    print("agent speaks: %s" % ", ".join("%.2f-%.2f" % r for r in agent_runs))
    failures = []
    if len(caller_runs) < 2:
        print("FAIL: the caller's recording has %d utterances, not a question and an interruption" % len(caller_runs))
        return 1
    (asked, asked_end), (onset, said_end) = caller_runs[0], caller_runs[1]
    frame_s = FRAME_MS / 1000
    voiced = lambda a, b: [i * frame_s for i in range(int(a / frame_s), min(int(b / frame_s), len(agent_levels)))
                           if agent_levels[i] >= VOICED_RMS]
    # The agent was speaking when the caller started over it (else the script's timing, not the agent, is off).
    just_before = voiced(onset - 0.3, onset)
    if not just_before:
        failures.append("the agent was not speaking in the 300 ms before the caller's onset at %.2f s" % onset)
    over = voiced(onset, said_end)
    stop = (over[-1] + frame_s) if over else onset
    stop_ms = (stop - onset) * 1000
    print("question %.2f-%.2f s; interruption %.2f-%.2f s" % (asked, asked_end, onset, said_end))
    print("barge-in stop: %.0f ms after the caller's onset (agent quiet from %.2f s)" % (stop_ms, stop))
    print("at the onset the agent had spoken %.2f s without a pause" % run_before(agent_levels, onset))
    if stop_ms > args.max_stop_ms:
        failures.append("the agent went on %.0f ms over the caller (bound %.0f ms)" % (stop_ms, args.max_stop_ms))
    answer = [r for r in agent_runs if r[0] >= said_end and r[1] - r[0] >= 0.3]
    if not answer:
        failures.append("the agent did not answer after the interruption ended at %.2f s" % said_end)
    else:
        print("answer: %.2f-%.2f s, %.0f ms after the caller stopped" % (answer[0][0], answer[0][1],
                                                                       (answer[0][0] - said_end) * 1000))
        write_wav(os.path.join(args.workdir, "answer.wav"), rate, agent[int(answer[0][0] * rate):])
    return verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
