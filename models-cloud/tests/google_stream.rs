//! The Google Speech-to-Text v2 streaming client against a fake of `speech.googleapis.com` on 127.0.0.1: a
//! real HTTP/2 server (h2, cleartext with prior knowledge) that checks the gRPC request the way Google's front
//! end does (`POST /google.cloud.speech.v2.Speech/StreamingRecognize`, `content-type: application/grpc`, `te:
//! trailers`, `x-goog-api-key`, 5-byte length-prefixed protobuf messages: the recognizer and config first,
//! then audio, then the half-close) and answers with length-prefixed `StreamingRecognizeResponse`s and
//! `grpc-status` trailers (or a trailers-only refusal). The protobuf bytes here are written and read by the
//! test's own few lines, not by the client's encoder. The production client runs unchanged, pointed at the
//! fake by base URL.

mod google_stream {
    use std::future::Future;
    use std::net::{SocketAddr, TcpListener};
    use std::pin::Pin;
    use std::sync::Arc;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use h2::server::SendResponse;
    use h2::RecvStream;
    use voicera_models::fallback::{BreakerPolicy, ChainBudget, Link, SystemClock};
    use voicera_models::speech_chain::FallbackStt;
    use voicera_models::{FailureKind, SpeechToText, SttStream, Transcript};
    use voicera_models_cloud::google_stream::{GoogleStreamConfig, GoogleStreamStt};

    const DEADLINE: Duration = Duration::from_secs(10);
    const KEY: &str = "AIza-test-key";
    const PATH: &str = "/google.cloud.speech.v2.Speech/StreamingRecognize";

    /// What the fake saw of one call.
    #[derive(Debug, Default, Clone)]
    struct Seen {
        headers: Vec<(String, String)>,
        /// The request messages, in order (length prefixes removed).
        messages: Vec<Vec<u8>>,
        /// The client half-closed its request stream.
        half_closed: bool,
        /// The client reset the call, and when the fake saw it.
        reset: Option<(h2::Reason, Instant)>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
        }
    }

    type Call = (http::Request<RecvStream>, SendResponse<Bytes>);
    type Handler = Box<dyn FnOnce(Call) -> Pin<Box<dyn Future<Output = Seen> + Send>> + Send>;

    fn handler<F, Fut>(f: F) -> Handler
    where
        F: FnOnce(Call) -> Fut + Send + 'static,
        Fut: Future<Output = Seen> + Send + 'static,
    {
        Box::new(move |call| Box::pin(f(call)))
    }

    /// An HTTP/2 server taking one connection and handing its calls, in order, to `handlers`.
    fn grpc_server(handlers: Vec<Handler>) -> (SocketAddr, JoinHandle<Vec<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let (socket, _) = listener.accept().await.unwrap();
                let mut connection = h2::server::handshake(socket).await.unwrap();
                let (calls, mut incoming) = tokio::sync::mpsc::unbounded_channel();
                let (shut, mut shutdown) = tokio::sync::oneshot::channel::<()>();
                let driver = tokio::spawn(async move {
                    let mut closing = false;
                    loop {
                        tokio::select! {
                            call = connection.accept() => match call {
                                Some(Ok(call)) => {
                                    let _ = calls.send(call);
                                }
                                _ => return,
                            },
                            _ = &mut shutdown, if !closing => {
                                // GOAWAY, then the answers written so far are flushed before the connection ends.
                                connection.graceful_shutdown();
                                closing = true;
                            }
                        }
                    }
                });
                let mut seen = Vec::new();
                for handler in handlers {
                    let call = tokio::time::timeout(DEADLINE, incoming.recv()).await.unwrap().unwrap();
                    seen.push(tokio::time::timeout(DEADLINE, handler(call)).await.unwrap());
                }
                let _ = shut.send(());
                let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
                seen
            })
        });
        (address, handle)
    }

    /// The request's head as seen, checked like Google's front end; `None` when the key is wrong.
    fn head(request: &http::Request<RecvStream>) -> Seen {
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri().path(), PATH);
        let headers = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        Seen { headers, ..Seen::default() }
    }

    /// Reads request messages until `enough` says so or the client half-closes.
    async fn read_messages(body: &mut RecvStream, seen: &mut Seen, mut enough: impl FnMut(&Seen) -> bool) {
        let mut buffer = Vec::new();
        while !enough(seen) {
            match body.data().await {
                Some(Ok(data)) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    buffer.extend_from_slice(&data);
                    while buffer.len() >= 5 && buffer.len() >= 5 + be32(&buffer[1..5]) {
                        assert_eq!(buffer[0], 0, "messages are not compressed");
                        let length = be32(&buffer[1..5]);
                        seen.messages.push(buffer[5..5 + length].to_vec());
                        buffer.drain(..5 + length);
                    }
                }
                Some(Err(err)) => {
                    seen.reset = Some((err.reason().unwrap_or(h2::Reason::INTERNAL_ERROR), Instant::now()));
                    return;
                }
                None => {
                    assert!(buffer.is_empty(), "the request ended inside a message");
                    seen.half_closed = true;
                    return;
                }
            }
        }
    }

    fn be32(bytes: &[u8]) -> usize {
        u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
    }

    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    fn field(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
        varint(out, number << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    /// A `StreamingRecognizeResponse` with `results` (transcript, is_final), framed.
    fn response(results: &[(&str, bool)]) -> Bytes {
        let mut message = Vec::new();
        for (text, is_final) in results {
            let mut alternative = Vec::new();
            field(&mut alternative, 1, text.as_bytes());
            alternative.extend_from_slice(&[0x15, 0, 0, 0x40, 0x3f]); // confidence 0.75 (fixed32)
            let mut result = Vec::new();
            field(&mut result, 1, &alternative);
            if *is_final {
                result.extend_from_slice(&[0x10, 1]);
            } else {
                result.extend_from_slice(&[0x1d, 0xcd, 0xcc, 0x4c, 0x3f]); // stability 0.8
            }
            field(&mut result, 6, b"hi-in");
            field(&mut message, 6, &result);
        }
        let mut framed = vec![0];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(&message);
        Bytes::from(framed)
    }

    /// The fields of a protobuf message: (number, wire type, bytes or varint as bytes).
    fn fields(mut data: &[u8]) -> Vec<(u64, Vec<u8>)> {
        fn read_varint(data: &mut &[u8]) -> u64 {
            let mut value = 0;
            let mut shift = 0;
            loop {
                let byte = data[0];
                *data = &data[1..];
                value |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    return value;
                }
                shift += 7;
            }
        }
        let mut out = Vec::new();
        while !data.is_empty() {
            let key = read_varint(&mut data);
            match key & 7 {
                0 => out.push((key >> 3, read_varint(&mut data).to_le_bytes().to_vec())),
                2 => {
                    let length = read_varint(&mut data) as usize;
                    out.push((key >> 3, data[..length].to_vec()));
                    data = &data[length..];
                }
                other => panic!("wire type {other}"),
            }
        }
        out
    }

    fn get(fields: &[(u64, Vec<u8>)], number: u64) -> Vec<u8> {
        fields.iter().find(|(n, _)| *n == number).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no field {number}"))
    }

    fn grpc_head() -> http::Response<()> {
        http::Response::builder().status(200).header("content-type", "application/grpc").body(()).unwrap()
    }

    fn trailers(status: u32, message: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", status.to_string().parse().unwrap());
        if !message.is_empty() {
            headers.insert("grpc-message", message.parse().unwrap());
        }
        headers
    }

    /// Refuses the call with a trailers-only answer.
    fn refusal(status: u32, message: &'static str) -> Handler {
        handler(move |(request, mut respond): Call| async move {
            let seen = head(&request);
            let mut answer = grpc_head();
            answer.headers_mut().extend(trailers(status, message));
            respond.send_response(answer, true).unwrap();
            seen
        })
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

    fn client(address: SocketAddr, key: &str) -> GoogleStreamStt {
        GoogleStreamStt::new(GoogleStreamConfig::new(&format!("http://{address}"), "chirp_2", "acme-voice", key))
    }

    /// Answers an utterance: an interim result after the first audio, the final after the half-close.
    fn answering(interim: &'static str, last: &'static str) -> Handler {
        handler(move |(request, mut respond): Call| async move {
            let mut seen = head(&request);
            let mut body = request.into_body();
            read_messages(&mut body, &mut seen, |s| s.messages.len() >= 2).await;
            let mut answer = respond.send_response(grpc_head(), false).unwrap();
            answer.send_data(response(&[(interim, false)]), false).unwrap();
            read_messages(&mut body, &mut seen, |_| false).await;
            answer.send_data(response(&[(last, true)]), false).unwrap();
            answer.send_trailers(trailers(0, "")).unwrap();
            seen
        })
    }

    /// Reads the first message of the next call and keeps it open until the client leaves.
    fn warm() -> Handler {
        handler(|(request, respond): Call| async move {
            // Unanswered but open: the response handle lives until the client leaves.
            let _open = respond;
            let mut seen = head(&request);
            let mut body = request.into_body();
            read_messages(&mut body, &mut seen, |_| false).await;
            seen
        })
    }

    #[test]
    fn interim_and_final_results_over_one_pooled_connection() {
        let (address, server) = grpc_server(vec![answering(" मुझे टिकट", " मुझे टिकट चाहिए"), warm()]);
        let mut stream = client(address, KEY).stream("hi");
        let samples: Vec<i16> = (0..1600).map(|i| (i % 400) as i16 * 50 - 10_000).collect();
        stream.push_audio(&samples[..800]);
        stream.push_audio(&samples[800..]);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("मुझे टिकट".into()));
        stream.end_of_speech();
        // The final result shows as soon as it comes; the call's OK status completes the utterance.
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("मुझे टिकट चाहिए".into()));
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("मुझे टिकट चाहिए".into()));
        // The next utterance's call opens on the same connection (the fake takes only one).
        std::thread::sleep(Duration::from_millis(100));
        drop(stream);
        let seen = server.join().unwrap();
        let first = &seen[0];
        assert_eq!(first.header("content-type"), Some("application/grpc"));
        assert_eq!(first.header("te"), Some("trailers"));
        assert_eq!(first.header("x-goog-api-key"), Some(KEY));
        assert_eq!(
            first.header("x-goog-request-params"),
            Some("recognizer=projects%2Facme-voice%2Flocations%2Fglobal%2Frecognizers%2F_")
        );
        assert!(first.half_closed, "the utterance's end half-closes the request stream");
        // The first request: the recognizer and the streaming config, no audio.
        let request = fields(&first.messages[0]);
        assert_eq!(get(&request, 3), b"projects/acme-voice/locations/global/recognizers/_");
        assert!(request.iter().all(|(n, _)| *n != 5), "no audio in the first request");
        let streaming = fields(&get(&request, 6));
        let recognition = fields(&get(&streaming, 1));
        let decoding = fields(&get(&recognition, 8));
        assert_eq!(get(&decoding, 1)[0], 1, "LINEAR16");
        assert_eq!(u64::from_le_bytes(get(&decoding, 2).try_into().unwrap()), 16_000);
        assert_eq!(get(&recognition, 9), b"chirp_2");
        assert_eq!(get(&recognition, 10), b"hi-IN");
        assert_eq!(get(&fields(&get(&streaming, 2)), 2)[0], 1, "interim_results");
        // Then the audio, as sent, in order.
        let audio: Vec<u8> = first.messages[1..].iter().flat_map(|m| get(&fields(m), 5)).collect();
        assert_eq!(audio, samples.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>());
        assert_eq!(seen[1].messages.first(), first.messages.first(), "the next call started warm, same config");
        assert_eq!(seen[1].reset.map(|(reason, _)| reason), Some(h2::Reason::CANCEL), "and was reset on drop");
    }

    #[test]
    fn googles_status_and_message_come_through() {
        let (address, server) =
            grpc_server(vec![refusal(16, "API%20key%20not%20valid.%20Please%20pass%20a%20valid%20API%20key.")]);
        let mut stream = client(address, "AIza-wrong").stream("hi");
        stream.push_audio(&[0; 320]);
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Rejected, "{err}");
                assert!(
                    err.message.contains("UNAUTHENTICATED: API key not valid. Please pass a valid API key."),
                    "{err}"
                );
                assert!(!err.message.contains("AIza-wrong"), "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(server.join().unwrap()[0].header("x-goog-api-key"), Some("AIza-wrong"));

        // A status in the trailers, after the answer began.
        let (address, _server) = grpc_server(vec![handler(|(request, mut respond): Call| async move {
            let mut seen = head(&request);
            let mut body = request.into_body();
            read_messages(&mut body, &mut seen, |s| s.messages.len() >= 2).await;
            let mut answer = respond.send_response(grpc_head(), false).unwrap();
            answer.send_data(response(&[("hello", false)]), false).unwrap();
            answer
                .send_trailers(trailers(
                    3,
                    "Invalid%20recognizer%20name%3A%20model%20%22chirp_9%22%20does%20not%20exist.",
                ))
                .unwrap();
            seen
        })]);
        let mut stream = client(address, KEY).stream("en");
        stream.push_audio(&[7; 320]);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("hello".into()));
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Rejected, "{err}");
                assert!(
                    err.message
                        .ends_with("INVALID_ARGUMENT: Invalid recognizer name: model \"chirp_9\" does not exist."),
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
        // Accepts and never speaks HTTP/2 (no SETTINGS, no PING answer).
        let _held = std::thread::spawn(move || {
            let held = listener.accept();
            std::thread::sleep(Duration::from_secs(3));
            drop(held);
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
    }

    #[test]
    fn dropping_the_stream_resets_its_call_at_once() {
        let (heard, audio_came) = std::sync::mpsc::channel();
        let (address, server) = grpc_server(vec![handler(move |(request, respond): Call| async move {
            let _open = respond;
            let mut seen = head(&request);
            let mut body = request.into_body();
            read_messages(&mut body, &mut seen, |s| s.messages.len() >= 2).await;
            let _ = heard.send(());
            read_messages(&mut body, &mut seen, |_| false).await;
            seen
        })]);
        let mut stream = client(address, KEY).stream("hi");
        stream.push_audio(&[1; 320]);
        audio_came.recv_timeout(DEADLINE).expect("the call's config and audio");
        let dropped = Instant::now();
        drop(stream);
        let seen = server.join().unwrap();
        let (reason, at) = seen[0].reset.expect("the call was reset");
        assert_eq!(reason, h2::Reason::CANCEL);
        // Event-driven (no polling interval): the bound is loose only for a loaded machine.
        assert!(at.duration_since(dropped) < Duration::from_millis(500), "{:?}", at.duration_since(dropped));
        assert_eq!(seen[0].messages.len(), 2, "the config and the audio went before");
    }

    #[test]
    fn a_failing_streaming_link_falls_back_to_the_next_with_the_utterance_replayed() {
        let (failing, _failing_server) =
            grpc_server(vec![refusal(14, "The%20service%20is%20currently%20unavailable.")]);
        let (working, working_server) = grpc_server(vec![answering("book", "book a table")]);
        let link = |name: &str, address: SocketAddr| {
            Link::new(name, Arc::new(client(address, KEY)) as Arc<dyn SpeechToText>, BreakerPolicy::default())
        };
        let chain = FallbackStt::new(
            vec![link("google-stream:chirp_2", failing), link("google-stream:long", working)],
            ChainBudget::default(),
            Arc::new(SystemClock),
        );
        let mut stream = chain.stream("en");
        stream.push_audio(&[300; 3200]);
        stream.end_of_speech();
        let mut transcripts = Vec::new();
        while !matches!(transcripts.last(), Some(Transcript::Final(_))) {
            transcripts.push(next_transcript(stream.as_mut()));
        }
        assert_eq!(transcripts.last(), Some(&Transcript::Final("book a table".into())), "{transcripts:?}");
        let switch = stream.take_switch().expect("a switch");
        assert_eq!((switch.from.as_str(), switch.to.as_str()), ("google-stream:chirp_2", "google-stream:long"));
        assert_eq!(switch.reason.kind, FailureKind::Overloaded, "{}", switch.reason);
        assert!(
            switch.reason.message.contains("UNAVAILABLE: The service is currently unavailable."),
            "{}",
            switch.reason
        );
        drop(stream);
        let seen = working_server.join().unwrap();
        let audio: usize = seen[0].messages[1..].iter().map(|m| get(&fields(m), 5).len()).sum();
        assert_eq!(audio, 3200 * 2, "the whole utterance was replayed to the next link");
    }
}
