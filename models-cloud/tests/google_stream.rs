//! The Google Speech-to-Text v2 streaming client against a fake of `speech.googleapis.com` on 127.0.0.1: a
//! real HTTP/2 server (h2, cleartext with prior knowledge) that checks the gRPC request the way Google's front
//! end does (`POST /google.cloud.speech.v2.Speech/StreamingRecognize`, `content-type: application/grpc`, `te:
//! trailers`, `x-goog-api-key`, 5-byte length-prefixed protobuf messages: the recognizer and config first,
//! then audio, then the half-close) and answers with length-prefixed `StreamingRecognizeResponse`s and
//! `grpc-status` trailers (or a trailers-only refusal). The protobuf bytes here are written and read by the
//! test's own few lines, not by the client's encoder. The production client runs unchanged, pointed at the
//! fake by base URL.
//!
//! The fake also takes several connections (counting them), can advertise a `SETTINGS_MAX_CONCURRENT_STREAMS`,
//! can stop driving its connections (no frame read or written, PINGs unanswered: a NAT that dropped the
//! path), and its recogniser can end a call with Google's `OUT_OF_RANGE` stream-limit status after so many
//! bytes of audio. The keepalive test runs client and fake on one paused tokio clock.

mod google_stream {
    use std::future::Future;
    use std::net::{SocketAddr, TcpListener};
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use h2::server::SendResponse;
    use h2::RecvStream;
    use voicera_models::fallback::{BreakerPolicy, ChainBudget, Link, SystemClock};
    use voicera_models::speech_chain::FallbackStt;
    use voicera_models::{FailureKind, SpeechToText, SttStream, Transcript};
    use voicera_models_cloud::google_stream::{GoogleStreamConfig, GoogleStreamStt};
    use voicera_models_cloud::grpc::{Connector, Transport};
    use voicera_models_cloud::grpc_pool::PoolConfig;

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
        /// Which of the fake's connections carried it (0 for the first accepted).
        connection: usize,
        /// Bytes of a request message not yet whole.
        pending: Vec<u8>,
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

    /// How the fake serves.
    #[derive(Debug, Clone, Default)]
    struct FakeOptions {
        /// Its `SETTINGS_MAX_CONCURRENT_STREAMS`.
        max_streams: Option<u32>,
        /// No per-step deadline (on a paused clock virtual time runs ahead of the fake's steps).
        no_deadline: bool,
        /// The handler of every call after the listed ones, until [`Fake::finish`].
        every_call: Option<fn() -> Handler>,
        /// Each connection says GOAWAY (graceful) as it accepts this many calls.
        goaway_after_calls: Option<usize>,
        /// Each connection says GOAWAY `ENHANCE_YOUR_CALM` (too many pings) as it accepts this many calls.
        calm_after_calls: Option<usize>,
    }

    /// What the test sees of a running fake and can do to it.
    #[derive(Debug, Clone)]
    struct Fake {
        connections: Arc<AtomicUsize>,
        calls: Arc<AtomicUsize>,
        /// Connections with an index below this are no longer driven.
        frozen_below: Arc<tokio::sync::watch::Sender<usize>>,
        /// Set when the test expects no more calls.
        finished: Arc<tokio::sync::watch::Sender<bool>>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                connections: Arc::default(),
                calls: Arc::default(),
                frozen_below: Arc::new(tokio::sync::watch::channel(0).0),
                finished: Arc::new(tokio::sync::watch::channel(false).0),
            }
        }

        /// No more calls are expected: the fake stops waiting for them.
        fn finish(&self) {
            self.finished.send_replace(true);
        }

        /// Connections accepted.
        fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }

        /// Calls accepted, on every connection.
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        /// The connections made so far stop being driven: nothing read, nothing written, no PING answered.
        fn freeze(&self) {
            self.frozen_below.send_replace(self.connections());
        }

        /// They are driven again.
        fn thaw(&self) {
            self.frozen_below.send_replace(0);
        }
    }

    /// An HTTP/2 server on a thread of its own handing its calls, in order, to `handlers`.
    fn grpc_server(handlers: Vec<Handler>) -> (SocketAddr, JoinHandle<Vec<Seen>>) {
        let (address, _, server) = grpc_server_with(FakeOptions::default(), handlers);
        (address, server)
    }

    fn grpc_server_with(options: FakeOptions, handlers: Vec<Handler>) -> (SocketAddr, Fake, JoinHandle<Vec<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let fake = Fake::new();
        let served = fake.clone();
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                serve(Listener::Tcp(listener), options, handlers, served).await
            })
        });
        (address, fake, handle)
    }

    /// Where the fake's connections come from: TCP, or in memory (a paused clock cannot run ahead of bytes in
    /// a kernel socket buffer that way).
    enum Listener {
        Tcp(tokio::net::TcpListener),
        Memory(tokio::sync::mpsc::UnboundedReceiver<tokio::io::DuplexStream>),
    }

    trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
    impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

    impl Listener {
        async fn accept(&mut self) -> Option<Box<dyn Io>> {
            match self {
                Listener::Tcp(listener) => Some(Box::new(listener.accept().await.ok()?.0)),
                Listener::Memory(incoming) => Some(Box::new(incoming.recv().await?)),
            }
        }
    }

    /// An in-memory listener, and the connector whose connections it accepts.
    fn in_memory() -> (Listener, Connector) {
        in_memory_gated(tokio::sync::watch::channel(true).1)
    }

    /// An in-memory listener whose connects wait until `gate` is open.
    fn in_memory_gated(gate: tokio::sync::watch::Receiver<bool>) -> (Listener, Connector) {
        let (dial, incoming) = tokio::sync::mpsc::unbounded_channel();
        let connector = Connector::new(move || {
            let (dial, mut gate) = (dial.clone(), gate.clone());
            async move {
                let _ = gate.wait_for(|open| *open).await;
                let (client, server) = tokio::io::duplex(1 << 20);
                dial.send(server).map_err(|_| std::io::Error::from(std::io::ErrorKind::ConnectionRefused))?;
                Ok(Box::new(client) as Box<dyn Transport>)
            }
        });
        (Listener::Memory(incoming), connector)
    }

    async fn within<F: Future>(options: &FakeOptions, future: F) -> F::Output {
        if options.no_deadline {
            future.await
        } else {
            tokio::time::timeout(DEADLINE, future).await.expect("the fake's step within its deadline")
        }
    }

    /// Accepts connections (any number) and hands their calls, in the order they come, to `handlers`, each
    /// running on its own task; then says GOAWAY on every connection and lets them finish.
    async fn serve(mut listener: Listener, options: FakeOptions, handlers: Vec<Handler>, fake: Fake) -> Vec<Seen> {
        let (calls, mut incoming) = tokio::sync::mpsc::unbounded_channel();
        let (shut, shutdown) = tokio::sync::watch::channel(false);
        let drivers = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (fake, drivers, options) = (fake.clone(), Arc::clone(&drivers), options.clone());
            tokio::spawn(async move {
                while let Some(socket) = listener.accept().await {
                    let index = fake.connections.fetch_add(1, Ordering::SeqCst);
                    let (calls, mut shutdown) = (calls.clone(), shutdown.clone());
                    let mut frozen = fake.frozen_below.subscribe();
                    let counted = Arc::clone(&fake.calls);
                    let (max_streams, goaway_after) = (options.max_streams, options.goaway_after_calls);
                    let calm_after = options.calm_after_calls;
                    let driver = tokio::spawn(async move {
                        let mut builder = h2::server::Builder::new();
                        if let Some(max) = max_streams {
                            builder.max_concurrent_streams(max);
                        }
                        let Ok(mut connection) = builder.handshake::<_, Bytes>(socket).await else { return };
                        let (mut closing, mut accepted) = (false, 0);
                        loop {
                            if index < *frozen.borrow_and_update() {
                                // Not driven: the connection's frames stay in the socket, unread and unanswered.
                                if frozen.wait_for(|below| index >= *below).await.is_err() {
                                    return;
                                }
                            }
                            tokio::select! {
                                call = connection.accept() => match call {
                                    Some(Ok(call)) => {
                                        counted.fetch_add(1, Ordering::SeqCst);
                                        accepted += 1;
                                        if calm_after == Some(accepted) && !closing {
                                            connection.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                                            closing = true;
                                        }
                                        if goaway_after == Some(accepted) && !closing {
                                            // GOAWAY goes out before the call's answer: the client knows first.
                                            connection.graceful_shutdown();
                                            closing = true;
                                        }
                                        let _ = calls.send((index, call));
                                    }
                                    _ => return,
                                },
                                _ = shutdown.changed(), if !closing => {
                                    // GOAWAY, then the answers written so far are flushed before the connection ends.
                                    connection.graceful_shutdown();
                                    closing = true;
                                }
                                _ = frozen.changed() => {}
                            }
                        }
                    });
                    drivers.lock().unwrap().push(driver);
                }
            })
        };
        let mut tasks = Vec::new();
        let mut handlers = handlers.into_iter();
        let mut finished = fake.finished.subscribe();
        loop {
            let (handler, listed) = match (handlers.next(), options.every_call) {
                (Some(handler), _) => (handler, true),
                (None, Some(make)) => (make(), false),
                (None, None) => break,
            };
            let (index, call) = if listed {
                within(&options, incoming.recv()).await.unwrap()
            } else {
                tokio::select! {
                    call = incoming.recv() => call.unwrap(),
                    _ = finished.wait_for(|done| *done) => break,
                }
            };
            let options = options.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = within(&options, handler(call)).await;
                seen.connection = index;
                seen
            }));
        }
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.unwrap());
        }
        let _ = shut.send(true);
        acceptor.abort();
        let drivers: Vec<_> = drivers.lock().unwrap().drain(..).collect();
        for driver in drivers {
            let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
        }
        seen
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
        while !enough(seen) {
            match body.data().await {
                Some(Ok(data)) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    let buffer = &mut seen.pending;
                    buffer.extend_from_slice(&data);
                    while buffer.len() >= 5 && buffer.len() >= 5 + be32(&buffer[1..5]) {
                        assert_eq!(buffer[0], 0, "messages are not compressed");
                        let length = be32(&buffer[1..5]);
                        let message = buffer[5..5 + length].to_vec();
                        buffer.drain(..5 + length);
                        seen.messages.push(message);
                    }
                }
                Some(Err(err)) => {
                    seen.reset = Some((err.reason().unwrap_or(h2::Reason::INTERNAL_ERROR), Instant::now()));
                    return;
                }
                None => {
                    assert!(seen.pending.is_empty(), "the request ended inside a message");
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
        let client = client(address, KEY);
        let mut stream = client.stream("en");
        stream.push_audio(&[7; 320]);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("hello".into()));
        // The status ends the call before the end of speech (after it, the words heard would stand).
        waited("the call ended by its status", || client.usage().1 == 0);
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

    /// A `StreamingRecognizeResponse` with one result ending `end` bytes into the call's audio
    /// (`result_end_offset`, a `google.protobuf.Duration`), framed.
    fn response_at(text: &str, is_final: bool, end: usize) -> Bytes {
        let mut alternative = Vec::new();
        field(&mut alternative, 1, text.as_bytes());
        let mut result = Vec::new();
        field(&mut result, 1, &alternative);
        if is_final {
            result.extend_from_slice(&[0x10, 1]);
        }
        // 32,000 bytes a second: 31,250 ns a byte.
        let nanos = end as u64 * 31_250;
        let mut duration = Vec::new();
        varint(&mut duration, 1 << 3);
        varint(&mut duration, nanos / 1_000_000_000);
        varint(&mut duration, 2 << 3);
        varint(&mut duration, nanos % 1_000_000_000);
        field(&mut result, 4, &duration);
        let mut message = Vec::new();
        field(&mut message, 6, &result);
        let mut framed = vec![0];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(&message);
        Bytes::from(framed)
    }

    /// Samples of one word of the recogniser's test language: word `k` is a run of the value `1000 k`, then
    /// a pause of zeros. 2,560 samples: 8 frames of 20 ms.
    const WORD_RUN: usize = 1920;
    const WORD_PAUSE: usize = 640;
    const FRAME: usize = 320;

    fn word_audio(k: usize) -> Vec<i16> {
        let mut samples = vec![(1000 * k) as i16; WORD_RUN];
        samples.resize(WORD_RUN + WORD_PAUSE, 0);
        samples
    }

    fn bytes_of(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    /// A recogniser of that language, as Google streams: after the config, an interim result (`~k`) when a
    /// word starts, its final (`wordk`, with where it ends in this call's audio) when the pause after it
    /// starts, and at the half-close the last word's final and status OK. With `cut_after`, the call ends
    /// with `OUT_OF_RANGE` once that many bytes of audio came (the rest unheard), as Google's at 305 s.
    fn recogniser(cut_after: Option<usize>, cut: Option<std::sync::mpsc::Sender<()>>) -> Handler {
        handler(move |(request, mut respond): Call| async move {
            let mut seen = head(&request);
            let mut body = request.into_body();
            read_messages(&mut body, &mut seen, |s| !s.messages.is_empty()).await;
            let mut answer = respond.send_response(grpc_head(), false).unwrap();
            let (mut position, mut word, mut heard) = (0usize, None::<(i16, usize)>, 1usize);
            loop {
                read_messages(&mut body, &mut seen, |s| s.messages.len() > heard).await;
                if seen.messages.len() == heard {
                    if seen.half_closed {
                        if let Some((value, end)) = word.take() {
                            let _ = answer.send_data(response_at(&format!("word{}", value / 1000), true, end), false);
                        }
                        let _ = answer.send_trailers(trailers(0, ""));
                    }
                    return seen;
                }
                let audio: Vec<u8> = seen.messages[heard..].iter().flat_map(|m| get(&fields(m), 5)).collect();
                heard = seen.messages.len();
                for pair in audio.chunks(2) {
                    if Some(position) == cut_after {
                        let limit = "Exceeded%20maximum%20allowed%20stream%20duration%20of%20305%20seconds.";
                        answer.send_trailers(trailers(11, limit)).unwrap();
                        if let Some(cut) = &cut {
                            let _ = cut.send(());
                        }
                        return seen;
                    }
                    let sample = i16::from_le_bytes([pair[0], pair[1]]);
                    position += 2;
                    match (sample != 0, word) {
                        (true, None) => {
                            word = Some((sample, position));
                            let interim = response_at(&format!("~{}", sample / 1000), false, position);
                            if let Err(err) = answer.send_data(interim, false) {
                                // The client replaced the call meanwhile (its reset came first).
                                seen.reset = Some((err.reason().unwrap_or(h2::Reason::CANCEL), Instant::now()));
                                return seen;
                            }
                        }
                        (true, Some((value, _))) => word = Some((value, position)),
                        (false, Some((value, end))) => {
                            let last = response_at(&format!("word{}", value / 1000), true, end);
                            if let Err(err) = answer.send_data(last, false) {
                                // The client replaced the call meanwhile (its reset came first).
                                seen.reset = Some((err.reason().unwrap_or(h2::Reason::CANCEL), Instant::now()));
                                return seen;
                            }
                            word = None;
                        }
                        (false, None) => {}
                    }
                }
            }
        })
    }

    /// Pushes word `k` frame by frame, then waits until the stream's transcript ends with its final.
    fn say_word(stream: &mut dyn SttStream, k: usize) {
        for frame in word_audio(k).chunks(FRAME) {
            stream.push_audio(frame);
        }
        let word = format!("word{k}");
        loop {
            match next_transcript(stream) {
                Transcript::Partial(text) if text.ends_with(&word) => return,
                Transcript::Partial(_) => {}
                other => panic!("{other:?} while saying {word}"),
            }
        }
    }

    fn final_transcript(stream: &mut dyn SttStream) -> String {
        loop {
            match next_transcript(stream) {
                Transcript::Final(text) => return text,
                Transcript::Partial(_) => {}
                Transcript::Failed(err) => panic!("{err}"),
            }
        }
    }

    fn audio_of(seen: &Seen) -> Vec<u8> {
        seen.messages.iter().skip(1).flat_map(|m| get(&fields(m), 5)).collect()
    }

    fn waited(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_call_google_ends_at_its_stream_limit_carries_over_without_losing_or_repeating_words() {
        let word_bytes = (WORD_RUN + WORD_PAUSE) * 2;
        // Google's limit falls in the middle of word 4 (after 3 frames of its 6).
        let cut_at = 3 * word_bytes + 3 * FRAME * 2;
        let (cut, cut_seen) = std::sync::mpsc::channel();
        let handlers = vec![recogniser(Some(cut_at), Some(cut)), recogniser(None, None), warm()];
        let (address, fake, server) = grpc_server_with(FakeOptions::default(), handlers);
        let mut stream = client(address, KEY).stream("en");
        for k in 1..=3 {
            say_word(stream.as_mut(), k);
        }
        for frame in word_audio(4).chunks(FRAME) {
            stream.push_audio(frame);
        }
        cut_seen.recv_timeout(DEADLINE).expect("the call cut at the limit");
        // Word 4 is recognised on the new call, from the audio resent; 5 to 8 are spoken after the switch.
        let word = "word4";
        loop {
            match next_transcript(stream.as_mut()) {
                Transcript::Partial(text) if text.ends_with(word) => break,
                Transcript::Partial(_) => {}
                other => panic!("{other:?}"),
            }
        }
        for k in 5..=8 {
            say_word(stream.as_mut(), k);
        }
        stream.end_of_speech();
        assert_eq!(final_transcript(stream.as_mut()), "word1 word2 word3 word4 word5 word6 word7 word8");
        waited("the next utterance's call", || fake.calls() >= 3);
        drop(stream);
        let seen = server.join().unwrap();
        let spoken: Vec<u8> = (1..=8).flat_map(|k| bytes_of(&word_audio(k))).collect();
        assert_eq!(seen[1].messages[0], seen[0].messages[0], "the new call has the same config");
        let first = audio_of(&seen[0]);
        assert!(first.len() >= cut_at && spoken.starts_with(&first), "the first call heard the audio in order");
        // The new call starts where word 3's final ended: its run's end, in the first call's audio.
        let word3_end = 2 * word_bytes + WORD_RUN * 2;
        assert_eq!(audio_of(&seen[1]), spoken[word3_end..].to_vec(), "nothing lost, nothing finalised resent");
        assert!(seen[1].half_closed);
    }

    #[test]
    fn a_long_call_is_replaced_at_the_clients_own_limit_before_google_ends_it() {
        let limit = Duration::from_millis(400); // 12,800 bytes a call
        let options = FakeOptions { every_call: Some(|| recogniser(None, None)), ..FakeOptions::default() };
        let (address, fake, server) = grpc_server_with(options, Vec::new());
        let mut stream = client(address, KEY).with_stream_limit(limit).stream("en");
        for k in 1..=8 {
            say_word(stream.as_mut(), k);
        }
        stream.end_of_speech();
        assert_eq!(final_transcript(stream.as_mut()), "word1 word2 word3 word4 word5 word6 word7 word8");
        drop(stream);
        fake.finish();
        let seen = server.join().unwrap();
        // 8 words of 5,120 bytes, at most 12,800 a call with what each resends (about four calls), then the
        // next utterance's call.
        let calls: Vec<usize> = seen.iter().map(|s| audio_of(s).len()).take_while(|n| *n > 0).collect();
        assert!(calls.len() >= 4, "{calls:?}");
        assert!(calls.iter().all(|n| *n <= 12_800), "no call carried more than the limit: {calls:?}");
        assert!(seen[..calls.len() - 1].iter().all(|s| s.reset.is_some()), "each replaced call was reset");
        assert!(seen[calls.len() - 1].half_closed, "the last one heard the end");
        for pair in seen[..calls.len()].windows(2) {
            assert_eq!(pair[1].messages[0], pair[0].messages[0], "each new call has the same config");
        }
    }

    #[test]
    fn a_third_call_opens_a_second_connection_when_the_server_allows_two_streams() {
        let options = FakeOptions { max_streams: Some(2), ..FakeOptions::default() };
        let (address, fake, server) =
            grpc_server_with(options, vec![warm(), warm(), answering(" hello", " hello there")]);
        let client = client(address, KEY);
        let mut streams = Vec::new();
        for n in 1..=3 {
            streams.push(client.stream("en"));
            waited("the call reaches the fake", || fake.calls() >= n);
        }
        assert_eq!(fake.connections(), 2);
        assert_eq!(client.usage(), (2, 3));
        let third = streams[2].as_mut();
        third.push_audio(&[500; 1600]);
        assert_eq!(next_transcript(third), Transcript::Partial("hello".into()));
        third.end_of_speech();
        assert_eq!(final_transcript(third), "hello there");
        // The third stream's next call is placed before the streams go.
        waited("the next utterance's call", || fake.calls() >= 4);
        assert_eq!(client.usage(), (2, 3));
        drop(streams);
        let seen = server.join().unwrap();
        assert_eq!(seen.iter().map(|s| s.connection).collect::<Vec<_>>(), vec![0, 0, 1]);
        assert_eq!(fake.connections(), 2, "the third call's successor found room on the second");
    }

    #[test]
    fn when_every_connection_is_full_a_call_fails_saying_so() {
        let options = FakeOptions { max_streams: Some(2), ..FakeOptions::default() };
        let (address, fake, _server) = grpc_server_with(options, vec![warm(), warm()]);
        let pool = PoolConfig { max_connections: 1, ..PoolConfig::default() };
        let client = client(address, KEY).with_pool(pool);
        let _first = client.stream("en");
        let _second = client.stream("en");
        waited("two calls reach the fake", || fake.calls() >= 2);
        let mut third = client.stream("en");
        third.push_audio(&[0; 320]);
        third.end_of_speech();
        match next_transcript(third.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Overloaded, "{err}");
                assert!(err.message.ends_with("all 1 HTTP/2 connections carry their most calls (2 in all)"), "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fake.connections(), 1);
    }

    /// The next transcript on the paused clock (at most 10 s of virtual time).
    async fn next_transcript_paused(stream: &mut dyn SttStream) -> Transcript {
        for _ in 0..1000 {
            if let Some(transcript) = stream.poll_transcript() {
                return transcript;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no transcript");
    }

    async fn final_paused(stream: &mut dyn SttStream) -> Transcript {
        loop {
            match next_transcript_paused(stream).await {
                Transcript::Partial(_) => {}
                other => return other,
            }
        }
    }

    #[test]
    fn an_unanswered_ping_drops_the_connection_within_its_timeout_and_the_next_stream_gets_a_new_one() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let (listener, connector) = in_memory();
            let fake = Fake::new();
            let options = FakeOptions { no_deadline: true, ..FakeOptions::default() };
            let handlers = vec![answering(" one", " one two"), warm(), answering(" three", " three four")];
            let server = tokio::spawn(serve(listener, options, handlers, fake.clone()));
            let address: SocketAddr = "127.0.0.1:9".parse().unwrap();
            let client = client(address, KEY).with_connector(connector).on_runtime(tokio::runtime::Handle::current());
            let mut first = client.stream("en");
            first.push_audio(&[100; 1600]);
            first.push_audio(&[100; 1600]);
            assert_eq!(next_transcript_paused(first.as_mut()).await, Transcript::Partial("one".into()));
            first.end_of_speech();
            assert_eq!(final_paused(first.as_mut()).await, Transcript::Final("one two".into()));
            // Idle (the next utterance's call open, nothing said) for over two minutes: the PINGs every 30 s
            // are answered and the connection stays.
            tokio::time::sleep(Duration::from_secs(125)).await;
            assert_eq!(client.usage(), (1, 1));
            assert_eq!(fake.connections(), 1);
            // The path dies silently (last heard at the PING answered at about 120 s).
            fake.freeze();
            tokio::time::sleep(Duration::from_secs(20)).await;
            assert_eq!(client.usage().0, 1, "not given up before its PING's timeout");
            // Within the interval and the timeout (30 s + 10 s) of the last answer it is dropped.
            tokio::time::sleep(Duration::from_secs(21)).await;
            assert_eq!(client.usage(), (0, 0), "the dead connection and its call are gone");
            first.end_of_speech();
            match final_paused(first.as_mut()).await {
                Transcript::Failed(err) => {
                    assert_eq!(err.kind, FailureKind::Unreachable, "{err}");
                    assert!(
                        err.message.ends_with("the HTTP/2 connection answered no PING within 10000 ms and was dropped"),
                        "{err}"
                    );
                }
                other => panic!("{other:?}"),
            }
            // The next stream works, on a new connection.
            let mut second = client.stream("en");
            second.push_audio(&[200; 1600]);
            assert_eq!(next_transcript_paused(second.as_mut()).await, Transcript::Partial("three".into()));
            second.end_of_speech();
            assert_eq!(final_paused(second.as_mut()).await, Transcript::Final("three four".into()));
            assert_eq!(fake.connections(), 2);
            drop((first, second));
            fake.thaw();
            let seen = tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap();
            assert_eq!(seen.iter().map(|s| s.connection).collect::<Vec<_>>(), vec![0, 0, 1]);
        });
    }

    #[test]
    fn a_connection_the_server_sends_away_takes_no_new_calls_and_the_next_goes_on_a_fresh_one() {
        let options = FakeOptions { goaway_after_calls: Some(1), ..FakeOptions::default() };
        let handlers = vec![answering(" one", " one two"), answering(" three", " three four"), warm()];
        let (address, fake, server) = grpc_server_with(options, handlers);
        let client = client(address, KEY);
        let mut stream = client.stream("en");
        stream.push_audio(&[100; 1600]);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("one".into()));
        stream.end_of_speech();
        assert_eq!(final_transcript(stream.as_mut()), "one two");
        // The next utterance's call went on a new connection, and works.
        stream.push_audio(&[100; 1600]);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("three".into()));
        stream.end_of_speech();
        assert_eq!(final_transcript(stream.as_mut()), "three four");
        waited("the next utterance's call", || fake.calls() >= 3);
        drop(stream);
        let seen = server.join().unwrap();
        assert_eq!(seen.iter().map(|s| s.connection).collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn a_call_google_ends_at_once_twice_in_a_row_is_a_failure_not_a_limit() {
        let limit = "Exceeded%20maximum%20allowed%20stream%20duration%20of%20305%20seconds.";
        let (address, fake, server) =
            grpc_server_with(FakeOptions::default(), vec![refusal(11, limit), refusal(11, limit)]);
        let mut stream = client(address, KEY).stream("en");
        stream.push_audio(&[100; 1600]);
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Rejected, "{err}");
                assert!(err
                    .message
                    .ends_with("OUT_OF_RANGE: Exceeded maximum allowed stream duration of 305 seconds."));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(server.join().unwrap().len(), 2);
        assert_eq!(fake.calls(), 2, "the first carried over, the second failed: no third call");
    }

    #[test]
    fn a_call_cut_around_the_end_of_speech_still_gives_the_whole_utterance() {
        // Everything is sent at once, the end too: Google's limit falls in word 2, most likely after the
        // half-close was sent, so the new call hears the rest and the end again.
        let cut_at = (WORD_RUN + WORD_PAUSE) * 2 + 3 * FRAME * 2;
        let handlers = vec![recogniser(Some(cut_at), None), recogniser(None, None), warm()];
        let (address, fake, server) = grpc_server_with(FakeOptions::default(), handlers);
        let mut stream = client(address, KEY).stream("en");
        for k in 1..=3 {
            for frame in word_audio(k).chunks(FRAME) {
                stream.push_audio(frame);
            }
        }
        stream.end_of_speech();
        assert_eq!(final_transcript(stream.as_mut()), "word1 word2 word3");
        waited("the next utterance's call", || fake.calls() >= 3);
        drop(stream);
        let seen = server.join().unwrap();
        let spoken: Vec<u8> = (1..=3).flat_map(|k| bytes_of(&word_audio(k))).collect();
        assert_eq!(audio_of(&seen[1]), spoken[WORD_RUN * 2..].to_vec(), "from the end of word 1's final on");
        assert!(seen[1].half_closed);
    }

    /// A server that accepts connections and never speaks HTTP/2; the count of connections accepted.
    fn stalling_server() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept() {
                held.push(socket);
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        (address, accepted)
    }

    #[test]
    fn a_stream_dropped_while_its_connection_is_being_made_leaves_no_place_counted() {
        let (address, accepted) = stalling_server();
        let pool = PoolConfig { max_connections: 1, ..PoolConfig::default() };
        let client = client(address, KEY).with_timeout(Duration::from_secs(60)).with_pool(pool);
        for n in 1..=3 {
            let stream = client.stream("en");
            waited("the connect reaches the server", || accepted.load(Ordering::SeqCst) >= n);
            assert_eq!(client.usage(), (1, 1), "the connection being made and its call");
            drop(stream);
            // The caller hung up mid-connect: its place and the connection are given back, so the next
            // stream (the pool holds one connection) may connect again.
            waited("the place given back", || client.usage() == (0, 0));
        }
    }

    #[test]
    fn calls_during_an_outage_share_the_connect_in_progress_and_then_fail_at_once() {
        let (address, accepted) = stalling_server();
        let pool = PoolConfig { connect_backoff: Duration::from_secs(60), ..PoolConfig::default() };
        let client = client(address, KEY).with_timeout(Duration::from_millis(300)).with_pool(pool);
        let mut first = client.stream("en");
        waited("the connect reaches the server", || accepted.load(Ordering::SeqCst) >= 1);
        let mut second = client.stream("en");
        waited("the second call waits on the same connect", || client.usage() == (1, 2));
        for stream in [&mut first, &mut second] {
            stream.end_of_speech();
            match next_transcript(stream.as_mut()) {
                Transcript::Failed(err) => assert_eq!(err.kind, FailureKind::TimedOut, "{err}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(client.usage(), (0, 0));
        // Within the back-off after the failure a new call fails with it, without connecting again.
        let mut third = client.stream("en");
        third.end_of_speech();
        match next_transcript(third.as_mut()) {
            Transcript::Failed(err) => assert_eq!(err.kind, FailureKind::TimedOut, "{err}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connect for the three calls");
    }

    /// Answers the config with an interim result, then ends the call at Google's stream limit at once.
    fn a_result_then_cut() -> Handler {
        handler(|(request, respond): Call| async move {
            let mut respond = respond;
            let mut seen = head(&request);
            let mut body = request.into_body();
            read_messages(&mut body, &mut seen, |s| !s.messages.is_empty()).await;
            let mut answer = respond.send_response(grpc_head(), false).unwrap();
            answer.send_data(response(&[(" again", false)]), false).unwrap();
            answer.send_trailers(trailers(11, "Exceeded%20maximum%20allowed%20stream%20duration")).unwrap();
            seen
        })
    }

    #[test]
    fn results_alone_do_not_let_a_call_google_keeps_ending_at_once_reopen_for_ever() {
        let (address, fake, server) =
            grpc_server_with(FakeOptions::default(), vec![a_result_then_cut(), a_result_then_cut()]);
        let mut stream = client(address, KEY).stream("en");
        stream.push_audio(&[100; 320]);
        server.join().unwrap();
        stream.end_of_speech();
        let failed = loop {
            match next_transcript(stream.as_mut()) {
                Transcript::Partial(_) => {}
                other => break other,
            }
        };
        match failed {
            Transcript::Failed(err) => assert_eq!(err.kind, FailureKind::Rejected, "{err}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(fake.calls(), 2, "the first carried over, the second (no new audio) failed: no third call");
    }

    #[test]
    fn a_connection_without_calls_is_not_pinged_and_closes_once_idle() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let (listener, connector) = in_memory();
            let fake = Fake::new();
            // The next utterance's call is kept open (until the stream goes), so the connection stays.
            let options = FakeOptions { no_deadline: true, every_call: Some(warm), ..FakeOptions::default() };
            let server = tokio::spawn(serve(listener, options, vec![answering(" one", " one two")], fake.clone()));
            let address: SocketAddr = "127.0.0.1:9".parse().unwrap();
            let pool = PoolConfig { idle_timeout: Duration::from_secs(300), ..PoolConfig::default() };
            let client = client(address, KEY)
                .with_pool(pool)
                .with_connector(connector)
                .on_runtime(tokio::runtime::Handle::current());
            let mut stream = client.stream("en");
            stream.push_audio(&[100; 1600]);
            assert_eq!(next_transcript_paused(stream.as_mut()).await, Transcript::Partial("one".into()));
            stream.end_of_speech();
            assert_eq!(final_paused(stream.as_mut()).await, Transcript::Final("one two".into()));
            for _ in 0..100 {
                if fake.calls() >= 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(fake.calls(), 2, "the next utterance's call reached the fake");
            drop(stream);
            for _ in 0..100 {
                if client.usage() == (1, 0) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(client.usage(), (1, 0), "the connection stays, carrying no calls");
            // Nothing answers from now on: a PING would go unanswered and drop the connection within 40 s.
            fake.freeze();
            tokio::time::sleep(Duration::from_secs(200)).await;
            assert_eq!(client.usage(), (1, 0), "not pinged without calls");
            tokio::time::sleep(Duration::from_secs(101)).await;
            assert_eq!(client.usage(), (0, 0), "closed after 300 s without calls");
            fake.thaw();
            fake.finish();
            let seen = tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap();
            assert_eq!(seen.len(), 2, "the utterance's call and the next, reset when the stream went");
            assert_eq!(fake.connections(), 1);
        });
    }

    #[test]
    fn a_call_refused_unprocessed_as_it_opens_goes_on_a_new_call() {
        let refused = handler(|(request, mut respond): Call| async move {
            let seen = head(&request);
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            seen
        });
        let handlers = vec![refused, answering(" hello", " hello there"), warm()];
        let (address, fake, server) = grpc_server_with(FakeOptions::default(), handlers);
        let mut stream = client(address, KEY).stream("en");
        waited("the refused call and the next", || fake.calls() >= 2);
        stream.push_audio(&[100; 1600]);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("hello".into()));
        stream.end_of_speech();
        assert_eq!(final_transcript(stream.as_mut()), "hello there");
        waited("the next utterance's call", || fake.calls() >= 3);
        drop(stream);
        assert_eq!(server.join().unwrap().len(), 3);
    }

    #[test]
    fn calls_waiting_on_a_connect_beyond_the_servers_stream_limit_go_on_a_new_connection() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let (gate, gated) = tokio::sync::watch::channel(false);
            let (listener, connector) = in_memory_gated(gated);
            let fake = Fake::new();
            let options = FakeOptions { no_deadline: true, max_streams: Some(1), ..FakeOptions::default() };
            let server = tokio::spawn(serve(listener, options, vec![warm(), warm()], fake.clone()));
            let address: SocketAddr = "127.0.0.1:9".parse().unwrap();
            let client = client(address, KEY).with_connector(connector).on_runtime(tokio::runtime::Handle::current());
            let first = client.stream("en");
            let second = client.stream("en");
            for _ in 0..100 {
                if client.usage() == (1, 2) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(client.usage(), (1, 2), "the second call waits on the first's connect");
            gate.send_replace(true);
            for _ in 0..100 {
                if fake.calls() >= 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(fake.calls(), 2);
            assert_eq!(fake.connections(), 2, "the server allows one stream: the waiter made a second connection");
            assert_eq!(client.usage(), (2, 2));
            drop((first, second));
            let seen = tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap();
            let mut on: Vec<usize> = seen.iter().map(|s| s.connection).collect();
            on.sort();
            assert_eq!(on, vec![0, 1]);
        });
    }

    #[test]
    fn a_server_saying_enhance_your_calm_gets_pings_half_as_often() {
        let options = FakeOptions { calm_after_calls: Some(1), ..FakeOptions::default() };
        let (address, fake, _server) = grpc_server_with(options, vec![warm(), warm()]);
        let client = client(address, KEY);
        assert_eq!(client.keepalive_interval(), Some(Duration::from_secs(30)));
        let _stream = client.stream("en");
        waited("the call reaches the fake", || fake.calls() >= 1);
        waited("the interval doubled", || client.keepalive_interval() == Some(Duration::from_secs(60)));
    }
}
