//! The Dhruva streaming ASR client against a fake of Dhruva's WebSocket on 127.0.0.1: a real WebSocket server
//! that checks what Dhruva checks (the path and `api_key` query, the start message, float32 audio, the end
//! message) and answers with Dhruva's messages (`ready`, interim and final `transcript`, `error`), refusals
//! and stalls. The production client runs unchanged, pointed at the fake by base URL.

// tungstenite's handshake callback returns its `ErrorResponse` (an http::Response) unboxed.
#![allow(clippy::result_large_err)]

mod dhruva {
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use serde_json::{json, Value};
    use tungstenite::handshake::server::{ErrorResponse, Request, Response};
    use tungstenite::{Message, WebSocket};
    use voicera_models::fallback::{BreakerPolicy, ChainBudget, Link, SystemClock};
    use voicera_models::speech_chain::FallbackStt;
    use voicera_models::{FailureKind, SpeechToText, SttStream, Transcript};
    use voicera_models_cloud::dhruva::{DhruvaConfig, DhruvaStt, DEFAULT_SERVICE_ID};

    const DEADLINE: Duration = Duration::from_secs(10);
    const KEY: &str = "dh-inference-key";

    type Socket = WebSocket<TcpStream>;
    /// One connection's script on the fake.
    type Session<T> = Box<dyn FnOnce(&mut Socket) -> T + Send>;

    /// A WebSocket server taking `sessions.len()` connections in turn, each checked like Dhruva's upgrade
    /// (path, `api_key`) and handed to its script.
    #[allow(clippy::type_complexity)]
    fn dhruva_server<T: Send + 'static>(
        sessions: Vec<Box<dyn FnOnce(&mut Socket) -> T + Send>>,
    ) -> (SocketAddr, JoinHandle<Vec<Option<T>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let mut out = Vec::new();
            for script in sessions {
                let (socket, _) = listener.accept().unwrap();
                socket.set_read_timeout(Some(DEADLINE)).unwrap();
                let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
                    let uri = request.uri().to_string();
                    assert!(uri.starts_with("/ws/v1/asr/stream?api_key="), "{uri}");
                    if !uri.ends_with(&format!("api_key={KEY}")) {
                        let mut refusal =
                            ErrorResponse::new(Some(r#"{"detail":{"message":"Invalid API key"}}"#.to_string()));
                        *refusal.status_mut() = tungstenite::http::StatusCode::UNAUTHORIZED;
                        return Err(refusal);
                    }
                    Ok(response)
                };
                match tungstenite::accept_hdr(socket, check) {
                    Ok(mut socket) => out.push(Some(script(&mut socket))),
                    Err(_) => out.push(None),
                }
            }
            out
        });
        (address, handle)
    }

    fn text(socket: &mut Socket) -> Value {
        loop {
            match socket.read().unwrap() {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Binary(_) => panic!("audio before the start message"),
                _ => {}
            }
        }
    }

    /// Float32 audio until the end message; returns the samples.
    fn audio_until_end(socket: &mut Socket) -> Vec<f32> {
        let mut samples = Vec::new();
        loop {
            match socket.read() {
                Ok(Message::Binary(bytes)) => {
                    assert_eq!(bytes.len() % 4, 0, "whole float32 samples");
                    samples.extend(bytes.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
                }
                Ok(Message::Text(t)) => {
                    assert_eq!(serde_json::from_str::<Value>(t.as_str()).unwrap(), json!({"type": "end"}));
                    return samples;
                }
                Ok(_) => {}
                Err(err) => panic!("no end message: {err}"),
            }
        }
    }

    fn transcript(text: &str, is_final: bool) -> Message {
        Message::Text(
            json!({"type": "transcript", "output": [{"source": text}], "isFinal": is_final}).to_string().into(),
        )
    }

    fn ready() -> Message {
        Message::Text(json!({"type": "ready", "sessionId": "3f2a"}).to_string().into())
    }

    fn next_transcript(stream: &mut dyn SttStream) -> Transcript {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(transcript) = stream.poll_transcript() {
                return transcript;
            }
            assert!(Instant::now() < deadline, "no transcript");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn client(address: SocketAddr, key: &str) -> DhruvaStt {
        DhruvaStt::new(DhruvaConfig::new(&format!("ws://{address}"), "indic-conformer", key))
    }

    #[test]
    fn interim_and_final_transcripts_and_a_warm_socket_for_the_next_utterance() {
        let first: Session<(Value, Vec<f32>)> = Box::new(|socket| {
            let start = text(socket);
            socket.send(ready()).unwrap();
            let mut heard = Vec::new();
            while heard.len() < 1600 {
                if let Message::Binary(bytes) = socket.read().unwrap() {
                    heard.extend(bytes.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
                }
            }
            socket.send(transcript("नमस्ते", false)).unwrap();
            heard.extend(audio_until_end(socket));
            socket.send(transcript("नमस्ते दोस्तों", true)).unwrap();
            (start, heard)
        });
        let second: Session<(Value, Vec<f32>)> = Box::new(|socket| (text(socket), vec![]));
        let (address, server) = dhruva_server(vec![first, second]);
        let mut stream = client(address, KEY).stream("hi-IN");
        let samples: Vec<i16> = (0..2000).map(|i| ((i * 37) % 2000) as i16 - 1000).collect();
        stream.push_audio(&samples);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("नमस्ते".into()));
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("नमस्ते दोस्तों".into()));
        let sessions = server.join().unwrap();
        let (start, heard) = sessions[0].clone().unwrap();
        assert_eq!(start["type"], "start");
        assert_eq!(start["config"]["serviceId"], DEFAULT_SERVICE_ID);
        assert_eq!(start["config"]["language"]["sourceLanguage"], "hi");
        assert_eq!(
            (start["config"]["audioFormat"].as_str(), start["config"]["encoding"].as_str()),
            (Some("pcm"), Some("raw"))
        );
        assert_eq!(start["config"]["samplingRate"], 16000);
        assert_eq!(
            start["streamingConfig"],
            json!({"chunkDurationMs": 100, "interimResults": true, "endOfStreamPolicy": "client_signal"})
        );
        let expected: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
        assert_eq!(heard, expected, "every sample, as float32, in 100 ms chunks and the rest before the end");
        // The next utterance's socket was opened and started right after the final.
        let (next_start, _) = sessions[1].clone().unwrap();
        assert_eq!(next_start, start);
    }

    #[test]
    fn a_refused_key_and_an_error_message_keep_dhruvas_words() {
        let (address, _server) =
            dhruva_server(vec![Box::new(|_: &mut Socket| ()) as Box<dyn FnOnce(&mut Socket) + Send>]);
        let mut stream = client(address, "wrong-key").stream("hi");
        stream.push_audio(&[0; 320]);
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Rejected, "{err}");
                assert!(err.message.contains("HTTP 401: Invalid API key"), "{err}");
                assert!(!err.message.contains("wrong-key"), "the key is not in messages: {err}");
            }
            other => panic!("{other:?}"),
        }

        let (address, _server) = dhruva_server(vec![Box::new(|socket: &mut Socket| {
            text(socket);
            let said = json!({"type": "error", "message": "Language 'xx' is not supported by bhashini/ai4b/indic-conformer/grpc"});
            socket.send(Message::Text(said.to_string().into())).unwrap();
            let _ = socket.read();
        }) as Box<dyn FnOnce(&mut Socket) + Send>]);
        let mut stream = client(address, KEY).stream("xx");
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Engine);
                assert!(
                    err.message.ends_with("Language 'xx' is not supported by bhashini/ai4b/indic-conformer/grpc"),
                    "{err}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_stalled_server_fails_after_timeout_ms() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        // Accepts and never answers the upgrade.
        let held = std::thread::spawn(move || {
            listener.accept().map(|(socket, _)| {
                std::thread::sleep(Duration::from_secs(3));
                drop(socket);
            })
        });
        let started = Instant::now();
        let mut stream = client(address, KEY).with_timeout(Duration::from_millis(250)).stream("hi");
        stream.push_audio(&[0; 160]);
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => assert_eq!(err.kind, FailureKind::TimedOut, "{err}"),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() >= Duration::from_millis(250), "not before its timeout");
        assert!(started.elapsed() < Duration::from_secs(3), "not the server's 3 s: {:?}", started.elapsed());
        drop(held);
    }

    #[test]
    fn dropping_the_stream_closes_its_socket_at_once() {
        let (started, start_came) = std::sync::mpsc::channel();
        let (address, server) = dhruva_server(vec![Box::new(move |socket: &mut Socket| {
            text(socket);
            socket.send(ready()).unwrap();
            let _ = started.send(());
            loop {
                match socket.read() {
                    Ok(Message::Close(_)) | Err(_) => return Instant::now(),
                    Ok(_) => {}
                }
            }
        }) as Box<dyn FnOnce(&mut Socket) -> Instant + Send>]);
        let mut stream = client(address, KEY).stream("hi");
        stream.push_audio(&[0; 3200]);
        start_came.recv_timeout(DEADLINE).expect("the start message");
        let dropped = Instant::now();
        drop(stream);
        let closed = server.join().unwrap()[0].unwrap();
        // The thread looks at its cancel flag every 10 ms; the bound is loose for a loaded machine.
        assert!(closed.duration_since(dropped) < Duration::from_millis(500), "{:?}", closed.duration_since(dropped));
    }

    #[test]
    fn a_failing_dhruva_link_falls_back_to_the_next_with_the_utterance_replayed() {
        // The first Dhruva dies mid-utterance (its socket drops after an interim); the second answers.
        let (failing, _failing_server) = dhruva_server(vec![Box::new(|socket: &mut Socket| {
            text(socket);
            socket.send(ready()).unwrap();
            let _ = audio_until_end(socket);
            socket
                .send(Message::Close(Some(tungstenite::protocol::CloseFrame {
                    code: tungstenite::protocol::frame::coding::CloseCode::Again,
                    reason: "server overloaded".into(),
                })))
                .unwrap();
        }) as Box<dyn FnOnce(&mut Socket) + Send>]);
        let (working, working_server) = dhruva_server(vec![Box::new(|socket: &mut Socket| {
            text(socket);
            socket.send(ready()).unwrap();
            let heard = audio_until_end(socket);
            socket.send(transcript("टिकट बुक करना है", true)).unwrap();
            let _ = socket.read();
            heard.len()
        }) as Box<dyn FnOnce(&mut Socket) -> usize + Send>]);
        let link = |name: &str, address: SocketAddr| {
            Link::new(name, Arc::new(client(address, KEY)) as Arc<dyn SpeechToText>, BreakerPolicy::default())
        };
        let chain = FallbackStt::new(
            vec![link("dhruva:indic-conformer", failing), link("dhruva:backup", working)],
            ChainBudget::default(),
            Arc::new(SystemClock),
        );
        let mut stream = chain.stream("hi");
        stream.push_audio(&[100; 4800]);
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("टिकट बुक करना है".into()));
        let switch = stream.take_switch().expect("a switch");
        assert_eq!((switch.from.as_str(), switch.to.as_str()), ("dhruva:indic-conformer", "dhruva:backup"));
        assert_eq!(switch.reason.kind, FailureKind::Overloaded, "{}", switch.reason);
        assert!(switch.reason.message.contains("server overloaded"), "{}", switch.reason);
        drop(stream);
        assert_eq!(working_server.join().unwrap()[0], Some(4800), "the whole utterance was replayed");
    }
}
