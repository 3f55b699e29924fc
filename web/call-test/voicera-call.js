// A browser call to a VoiceERA agent, over the node's browser socket (`ws`: L16 16 kHz binary frames both
// ways, JSON control) or WebRTC (`webrtc`: Opus over DTLS-SRTP, control on a data channel). The same module
// serves the built-in /call-test page and, later, the console.
//
//   const call = new VoiceraCall({ agentId: "demo", transport: "ws", credentials: { email, password } });
//   call.addEventListener("transcript", (e) => console.log(e.detail.role, e.detail.content));
//   call.addEventListener("state", (e) => console.log(e.detail));   // connecting | live | ended | failed
//   await call.start();   ...   call.hangUp();
//
// Events carry exactly what the server sends: `started`, `transcript` {role, content, turn, interrupted},
// `end` {reason}. Audio plays through an AudioWorklet queue that the server's `clear` empties at once
// (barge-in); `mark` messages are acknowledged when playback reaches them.

const RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz

// Capture: 20 ms Int16 frames to the main thread. Playback: a FIFO of Int16 samples, flushed on `clear`,
// reporting how many samples it has consumed (played or dropped) so that marks can be acknowledged.
const WORKLET = `
class Capture extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Int16Array(${FRAME}); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) for (let i = 0; i < ch.length; i++) {
      const s = Math.max(-1, Math.min(1, ch[i]));
      this.buf[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.n === ${FRAME}) { this.port.postMessage(this.buf.buffer.slice(0)); this.n = 0; }
    }
    return true;
  }
}
class Playback extends AudioWorkletProcessor {
  constructor() {
    super(); this.chunks = []; this.offset = 0; this.played = 0; this.lastReport = 0;
    this.port.onmessage = (e) => {
      if (e.data === "clear") {
        // Dropped samples count as consumed, so the main thread's mark positions stay comparable.
        for (const c of this.chunks) this.played += c.length;
        this.played -= this.offset; this.chunks = []; this.offset = 0;
      }
      else this.chunks.push(new Int16Array(e.data));
    };
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    for (let i = 0; i < out.length; i++) {
      const chunk = this.chunks[0];
      if (!chunk) { out[i] = 0; continue; }
      out[i] = chunk[this.offset++] / 0x8000;
      this.played++;
      if (this.offset >= chunk.length) { this.chunks.shift(); this.offset = 0; }
    }
    if (this.played - this.lastReport >= ${FRAME} || (!this.chunks.length && this.played !== this.lastReport)) {
      this.lastReport = this.played; this.port.postMessage(this.played);
    }
    return true;
  }
}
registerProcessor("voicera-capture", Capture);
registerProcessor("voicera-playback", Playback);
`;

export async function listAgents({ base = location.origin, credentials } = {}) {
  const response = await fetch(`${base}/browser/agents`, { headers: authHeaders(credentials) });
  if (!response.ok) throw new Error(`agents: ${response.status} ${await response.text()}`);
  return response.json();
}

function authHeaders(credentials) {
  if (!credentials || !credentials.email) return {};
  return { Authorization: "Basic " + btoa(`${credentials.email}:${credentials.password}`) };
}

export class VoiceraCall extends EventTarget {
  constructor({ base = location.origin, agentId, transport = "ws", credentials = null, microphone = null }) {
    super();
    this.base = base;
    this.agentId = agentId;
    this.transport = transport;
    this.credentials = credentials;
    this.microphone = microphone; // a MediaStream to use instead of asking for the microphone
    this.state = "idle";
    this.transcript = [];
    this.callId = null;
  }

  async start() {
    this.setState("connecting");
    try {
      const response = await fetch(`${this.base}/browser/session`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...authHeaders(this.credentials) },
        body: JSON.stringify({ agent_id: this.agentId }),
      });
      const session = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(session.message || `session: HTTP ${response.status}`);
      this.callId = session.call_id;
      this.stream = this.microphone ||
        (await navigator.mediaDevices.getUserMedia({
          audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
        }));
      if (this.transport === "webrtc") await this.startWebRtc(session);
      else await this.startSocket(session);
    } catch (err) {
      this.fail(err);
      throw err;
    }
  }

  sendDtmf(digit) {
    this.control({ event: "dtmf", dtmf: { digit: String(digit) } });
  }

  hangUp() {
    if (this.state === "ended" || this.state === "failed") return;
    this.control({ event: "stop" });
    this.finish("you hung up");
  }

  // --- browser socket ------------------------------------------------------------------------------------

  async startSocket(session) {
    this.audio = new AudioContext({ sampleRate: RATE });
    await this.audio.audioWorklet.addModule(URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" })));
    const source = this.audio.createMediaStreamSource(this.stream);
    const capture = new AudioWorkletNode(this.audio, "voicera-capture");
    this.playback = new AudioWorkletNode(this.audio, "voicera-playback");
    this.playback.connect(this.audio.destination);
    source.connect(capture);
    this.queued = 0;
    this.marks = [];
    this.playback.port.onmessage = (e) => this.acknowledgeMarks(e.data);

    const socket = new WebSocket(session.ws_url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    capture.port.onmessage = (e) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(e.data);
    };
    socket.onmessage = (e) => {
      if (typeof e.data !== "string") {
        this.queued += e.data.byteLength / 2;
        this.playback.port.postMessage(e.data, [e.data]);
        return;
      }
      const message = JSON.parse(e.data);
      if (message.event === "clear") {
        this.playback.port.postMessage("clear");
      } else if (message.event === "mark") {
        this.marks.push({ name: message.mark.name, at: this.queued });
      }
      this.handleControl(message);
    };
    socket.onclose = (e) => this.finish(e.reason || "the call ended");
    socket.onerror = () => this.fail(new Error("the browser socket failed"));
    await new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("close", () => reject(new Error("the server refused the call")), { once: true });
    });
  }

  acknowledgeMarks(consumed) {
    while (this.marks.length && this.marks[0].at <= consumed) {
      this.control({ event: "mark", mark: { name: this.marks.shift().name } });
    }
  }

  // --- WebRTC --------------------------------------------------------------------------------------------

  async startWebRtc(session) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    // One sendrecv audio m-line: the microphone goes up, the agent comes back on the same transceiver.
    for (const track of this.stream.getAudioTracks()) pc.addTrack(track, this.stream);
    this.channel = pc.createDataChannel("events");
    this.channel.onopen = () => this.handleControl({ event: "started", callId: session.call_id });
    this.channel.onmessage = (e) => this.handleControl(JSON.parse(e.data));
    this.channel.onclose = () => this.finish("the call ended");
    pc.ontrack = (e) => {
      this.player = new Audio();
      this.player.srcObject = e.streams[0] || new MediaStream([e.track]);
      this.player.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this.fail(new Error("WebRTC connection failed"));
      if (pc.connectionState === "closed" || pc.connectionState === "disconnected") this.finish("the call ended");
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
      setTimeout(resolve, 2000); // host candidates come at once; don't wait forever for others
    });
    const response = await fetch(session.webrtc_url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message || `WebRTC offer: HTTP ${response.status}`);
    await pc.setRemoteDescription(answer);
  }

  // --- common --------------------------------------------------------------------------------------------

  control(message) {
    const text = JSON.stringify(message);
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(text);
    if (this.channel && this.channel.readyState === "open") this.channel.send(text);
  }

  handleControl(message) {
    if (message.event === "started") {
      this.setState("live");
    } else if (message.event === "transcript") {
      this.transcript.push(message);
    } else if (message.event === "end") {
      this.dispatchEvent(new CustomEvent("end", { detail: message }));
      this.finish(message.reason);
      return;
    }
    this.dispatchEvent(new CustomEvent(message.event, { detail: message }));
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  fail(err) {
    if (this.state === "ended" || this.state === "failed") return;
    this.release();
    this.setState("failed", { reason: String(err && err.message ? err.message : err) });
  }

  finish(reason) {
    if (this.state === "ended" || this.state === "failed") return;
    this.release();
    this.setState("ended", { reason });
  }

  release() {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, "hang up");
    if (this.pc) this.pc.close();
    if (this.audio) this.audio.close();
    if (this.stream && !this.microphone) this.stream.getTracks().forEach((t) => t.stop());
  }
}
