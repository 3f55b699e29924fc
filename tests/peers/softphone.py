"""A headless pjsua2 softphone for tests: call a SIP URI, play a WAV into the call (optionally after a delay),
record what comes back, hang up after a while."""
import time

import pjsua2 as pj


class _Call(pj.Call):
    def __init__(self, acc, play_path, record_path, play_delay):
        super().__init__(acc)
        self.play_path, self.record_path, self.play_delay = play_path, record_path, play_delay
        self.player = self.recorder = None
        self.confirmed = self.disconnected = False
        self.confirmed_at = None
        self.playing = False

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            self.confirmed_at = time.time()
            # Create the recorder on CONFIRMED (onCallMediaState is too early for a clean recording).
            self.recorder = pj.AudioMediaRecorder()
            self.recorder.createRecorder(self.record_path)
            self.getAudioMedia(-1).startTransmit(self.recorder)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def start_playing(self):
        self.playing = True
        self.player = pj.AudioMediaPlayer()
        self.player.createPlayer(self.play_path, pj.PJMEDIA_FILE_NO_LOOP)
        self.player.startTransmit(self.getAudioMedia(-1))


def call_and_record(uri, play_path, record_path, seconds, codec="PCMU/8000", play_delay=0.0):
    """Returns True when the call was answered. The recording starts at answer time."""
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
    for c in ep.codecEnum2():
        ep.codecSetPriority(c.codecId, 255 if c.codecId.startswith(codec) else 0)
    acc = pj.Account()
    acfg = pj.AccountConfig()
    acfg.idUri = "sip:pjsua@127.0.0.1"
    acc.create(acfg)
    call = _Call(acc, play_path, record_path, play_delay)
    call.makeCall(uri, pj.CallOpParam(True))
    deadline = time.time() + seconds + 10
    while time.time() < deadline:
        ep.libHandleEvents(10)
        if call.disconnected:
            break
        if call.confirmed:
            elapsed = time.time() - call.confirmed_at
            if not call.playing and elapsed >= play_delay:
                call.start_playing()
            if elapsed > seconds:
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
    return confirmed
