#!/usr/bin/env python3
"""Calls sip:echo with pjsua2 using SRTP only (SDES keys in a=crypto, RTP/SAVP mandatory), over UDP or over
SIP over TLS, plays speech into the call, records what comes back and checks that it is the same speech (as
pjsua_echo.py does). pjsua encrypts what it sends and drops what does not authenticate, so a good echo means
SRTP worked both ways. Prints the SRTP suite of the server's answer (from the SDP pjsua received).

--avpf makes pjsua offer RTCP feedback (RFC 4585: RTP/SAVPF, with `a=rtcp-fb:* nack`), as WebRTC-minded SIP
phones do; pjsua refuses an answer in another profile, so the call must be answered in RTP/SAVPF. --plain
turns SRTP off (RTP/AVP, or RTP/AVPF with --avpf).

Usage: pjsua_srtp_echo.py SIP_URI WORKDIR [--tls] [--avpf] [--plain] [--seconds 6]
Exit 0 when the echo matches.
"""
import argparse
import os
import re
import sys
import time

import pjsua2 as pj

from echo_check import compare
from pjsua_echo import make_speech
from softphone import _Call


def call_and_record(uri, play_path, record_path, seconds, tls, log_path, avpf=False, plain=False):
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    # pjsua's log, its SIP messages included, to find the answer's a=crypto line.
    cfg.logConfig.filename = log_path
    cfg.logConfig.level = 5
    cfg.logConfig.consoleLevel = 1
    cfg.logConfig.msgLogging = 1
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = "127.0.0.1"
    if tls:
        # The test's self-signed certificate; what TLS verification proves is covered by tests/sip_tls.rs.
        tcfg.tlsConfig.verifyServer = False
        ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tcfg)
    else:
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for c in ep.codecEnum2():
        ep.codecSetPriority(c.codecId, 255 if c.codecId.startswith("PCMU/8000") else 0)
    acc = pj.Account()
    acfg = pj.AccountConfig()
    acfg.idUri = "sip:pjsua@127.0.0.1"
    acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_DISABLED if plain else pj.PJMEDIA_SRTP_MANDATORY
    if avpf:
        acfg.mediaConfig.rtcpFbConfig.dontUseAvpf = False
        nack = pj.RtcpFbCap()
        nack.codecId = "*"
        nack.type = pj.PJMEDIA_RTCP_FB_NACK
        acfg.mediaConfig.rtcpFbConfig.caps.append(nack)
    # SDES over plain UDP signalling too (the keys travel in the clear there: a test, not a deployment).
    acfg.mediaConfig.srtpSecureSignaling = 0
    acc.create(acfg)
    call = _Call(acc, play_path, record_path, 0.0)
    call.makeCall(uri, pj.CallOpParam(True))
    deadline = time.time() + seconds + 10
    while time.time() < deadline:
        ep.libHandleEvents(10)
        if call.disconnected:
            break
        if call.confirmed:
            if not call.playing:
                call.start_playing()
            if time.time() - call.confirmed_at > seconds:
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
    with open(log_path) as f:
        text = f.read()
    answers = [m for m in text.split("SIP/2.0 200 OK")[1:] if "m=audio" in m]
    suites = re.findall(r"a=crypto:\d+ (\S+) inline:", answers[0]) if answers else []
    profiles = re.findall(r"m=audio \d+ (\S+)", answers[0]) if answers else []
    return confirmed, suites, profiles


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("workdir")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--avpf", action="store_true")
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    play = os.path.join(args.workdir, "speech8k.wav")
    record = os.path.join(args.workdir, "echo-srtp.wav")
    make_speech(play)
    confirmed, suites, profiles = call_and_record(
        args.uri, play, record, args.seconds, args.tls, os.path.join(args.workdir, "pjsua.log"),
        avpf=args.avpf, plain=args.plain)
    print("answer profile:", " ".join(profiles), "suites:", " ".join(suites))
    if not confirmed:
        print("FAIL: call was never confirmed")
        return 1
    profile = ("RTP/AVP" if args.plain else "RTP/SAVP") + ("F" if args.avpf else "")
    if profiles != [profile] or len(suites) != (0 if args.plain else 1):
        keys = "no a=crypto line" if args.plain else "one a=crypto line"
        print("FAIL: the answer is not %s with %s" % (profile, keys))
        return 1
    what = "PCMU/8000 over %s" % profile + ("" if args.plain else " " + suites[0])
    return compare(play, record, what, max_round_trip_ms=600)


if __name__ == "__main__":
    sys.exit(main())
