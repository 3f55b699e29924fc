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
import time

import pjsua2 as pj

from echo_check import compare


def make_speech(path_8k):
    raw = path_8k + ".raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", raw,
                    "Hello, this is the voice era echo test. One two three four five."], check=True)
    subprocess.run(["sox", raw, "-r", "8000", "-c", "1", "-b", "16", path_8k, "pad", "0.3", "1.5"], check=True)


class Call(pj.Call):
    def __init__(self, acc, play_path, record_path):
        super().__init__(acc)
        self.play_path, self.record_path = play_path, record_path
        self.player = self.recorder = None
        self.confirmed = self.disconnected = False
        self.confirmed_at = None

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            self.confirmed_at = time.time()
            media = self.getAudioMedia(-1)
            self.recorder = pj.AudioMediaRecorder()
            self.recorder.createRecorder(self.record_path)
            media.startTransmit(self.recorder)
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(self.play_path, pj.PJMEDIA_FILE_NO_LOOP)
            self.player.startTransmit(media)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True
            self.last_status = info.lastStatusCode


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

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, 255 if codec.codecId.startswith(args.codec) else 0)

    acc = pj.Account()
    acfg = pj.AccountConfig()
    acfg.idUri = "sip:pjsua@127.0.0.1"
    acc.create(acfg)
    call = Call(acc, play, record)
    call.makeCall(args.uri, pj.CallOpParam(True))
    deadline = time.time() + args.seconds + 10
    while time.time() < deadline:
        ep.libHandleEvents(20)
        if call.disconnected:
            break
        if call.confirmed and time.time() - call.confirmed_at > args.seconds:
            call.hangup(pj.CallOpParam(True))
            for _ in range(100):
                ep.libHandleEvents(20)
                if call.disconnected:
                    break
            break
    confirmed = call.confirmed
    call.player = call.recorder = None
    del call
    acc.shutdown()
    ep.libDestroy()
    if not confirmed:
        print("FAIL: call was never confirmed")
        return 1

    # pjsua's own jitter buffer and bridge add ~100-200 ms; the server's budget is 300 ms on top.
    return compare(play, record, args.codec, max_round_trip_ms=600)

if __name__ == "__main__":
    sys.exit(main())
