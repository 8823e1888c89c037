//! The receiver under attack, as an attacker on the internet would try it: slow clients, connection floods,
//! oversized bodies and headers, garbage on the TLS port, HTTP/2 abuse and hostile events. Each test ends by
//! proving the server still acknowledges a signed event and that everything it acknowledged was recorded.

mod common;

use common::*;
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------------------------------
// Helpers

fn tls_config(rx: &Receiver, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    Arc::new(client_config(&rx.ca(), alpn))
}

/// Reads until the peer closes (EOF or reset); returns when, and what was received. Bounded.
async fn until_closed<S: AsyncRead + Unpin>(s: &mut S) -> (Instant, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server did not close the connection within {WAIT:?}");
    (Instant::now(), got)
}

/// Sends `bytes` one at a time, `every` apart, until the server closes the connection. Returns how long after
/// `since` it closed and what it answered.
async fn trickle<S: AsyncRead + AsyncWrite + Unpin>(
    s: S,
    bytes: &'static [u8],
    every: Duration,
    since: Instant,
) -> (Duration, String) {
    let (mut r, mut w) = tokio::io::split(s);
    let writer = async move {
        for b in bytes.iter().cycle() {
            if w.write_all(&[*b]).await.is_err() || w.flush().await.is_err() {
                break;
            }
            tokio::time::sleep(every).await;
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        (at, got) = until_closed(&mut r) => (at - since, String::from_utf8_lossy(&got).into_owned()),
        _ = writer => unreachable!(),
    }
}

/// Reads records until the event `id` shows up; returns every record seen before it.
fn records_until_event(rx: &Receiver, id: &str) -> Vec<Value> {
    let mut before = Vec::new();
    loop {
        let rec = rx.next_record();
        if rec["kind"] == "event" && rec["event"]["id"] == id {
            return before;
        }
        before.push(rec);
    }
}

/// Every acknowledged event is on the record, and a new signed event is acknowledged and recorded too.
async fn still_serving(rx: &Receiver, acknowledged: &[String], tag: &str) -> Vec<Value> {
    let id = format!("still-serving-{tag}");
    let reply = rx.client().post_signed(SECRET, &audit_event(&id)).await;
    assert_eq!(reply.status, 200, "after {tag}: {}", reply.body);
    let seen = records_until_event(rx, &id);
    let recorded: HashSet<&str> =
        seen.iter().filter(|r| r["kind"] == "event").filter_map(|r| r["event"]["id"].as_str()).collect();
    for ack in acknowledged {
        assert!(recorded.contains(ack.as_str()), "acknowledged {ack} is missing from the records");
    }
    // The journal is written before any answer, so everything acknowledged is already in it.
    let journaled = journal_event_ids(rx);
    for ack in acknowledged.iter().chain([&id]) {
        assert!(journaled.contains(ack), "acknowledged {ack} is missing from the journal");
    }
    seen
}

/// Ids of the accepted (non-duplicate) events in the receiver's default journal.
fn journal_event_ids(rx: &Receiver) -> HashSet<String> {
    let text = std::fs::read_to_string(rx.dir.join("glwatch-data/journal.jsonl")).expect("the journal exists");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["kind"] == "event" && r["duplicate"] == false)
        .filter_map(|r| r["event"]["id"].as_str().map(str::to_owned))
        .collect()
}

fn rejected(records: &[Value], status: u64) -> impl Iterator<Item = &Value> {
    records.iter().filter(move |r| r["kind"] == "rejected" && r["status"] == status)
}

// ---------------------------------------------------------------------------------------------------------------
// Slow clients

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_at_their_deadlines_while_a_signed_event_is_served() {
    let rx = Receiver::start(&[
        "--secret",
        SECRET,
        "--handshake-timeout",
        "2",
        "--header-timeout",
        "2",
        "--body-timeout",
        "2",
        "--idle-timeout",
        "60",
    ]);
    let deadline = Duration::from_secs(2);
    let config = tls_config(&rx, &[b"http/1.1"]);
    let addr = rx.addr;
    let mut tasks = tokio::task::JoinSet::new();
    let every = Duration::from_millis(100);
    const SLOW: usize = 200;
    // Connected one at a time: hundreds of handshakes at once on a loaded machine would miss the 2 s handshake
    // deadline themselves, and this test is about clients that are slow on purpose. Each clock starts before its
    // client connects, so the server's deadline for it cannot have begun earlier.
    for i in 0..SLOW {
        let since = Instant::now();
        match i % 3 {
            // A ClientHello that never ends.
            0 => {
                let tcp = TcpStream::connect(addr).await.unwrap();
                let hello: &[u8] = b"\x16\x03\x01\x40\x00\x01\x00\x3f\xfc\x03\x03aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                tasks.spawn(async move { ("handshake", trickle(tcp, hello, every, since).await) });
            }
            // Headers that never end.
            1 => {
                let tls = tls_from(addr, "127.0.0.1".parse().unwrap(), config.clone()).await.unwrap();
                let head: &[u8] =
                    b"POST /webhook HTTP/1.1\r\nhost: localhost\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                tasks.spawn(async move { ("headers", trickle(tls, head, every, since).await) });
            }
            // A body that never ends.
            _ => {
                let mut tls = tls_from(addr, "127.0.0.1".parse().unwrap(), config.clone()).await.unwrap();
                tls.write_all(
                    b"POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
                )
                .await
                .unwrap();
                tls.flush().await.unwrap();
                let body: &[u8] = b"{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                tasks.spawn(async move { ("body", trickle(tls, body, every, since).await) });
            }
        }
    }
    // Every slow client is connected and dribbling: a legitimate delivery is still served. (How fast is left to the
    // benchmarks: a loaded machine can make any latency bound fail.)
    let reply = rx.client().post_signed(SECRET, &audit_event("legit-during-slow")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let mut cut = std::collections::BTreeMap::<&str, usize>::new();
    while let Some(done) = tasks.join_next().await {
        let (kind, (after, answer)) = done.unwrap();
        // Closed by the server (`trickle` waits for that, bounded), and not before its deadline. No upper bound:
        // load only makes the cut later.
        assert!(after >= deadline, "{kind} trickler was closed after {after:?}, before its {deadline:?} deadline");
        if kind == "body" {
            assert!(answer.starts_with("HTTP/1.1 408"), "slow body answered {answer:?}");
        } else {
            assert!(!answer.contains("HTTP/1.1 2"), "{kind} trickler got {answer:?}");
        }
        *cut.entry(kind).or_default() += 1;
    }
    assert_eq!(cut.values().sum::<usize>(), SLOW, "{cut:?}");
    let seen = still_serving(&rx, &["legit-during-slow".to_owned()], "slow").await;
    assert!(rejected(&seen, 408).count() >= 1, "slow bodies are shown as refusals: {seen:?}");
}

#[tokio::test]
async fn http2_connection_sending_only_pings_is_closed_when_idle() {
    let rx = Receiver::start(&["--secret", SECRET, "--idle-timeout", "1"]);
    // Before connecting, so the server's idle clock cannot have started earlier.
    let since = Instant::now();
    let mut h2 = H2::connect(&rx).await;
    // Traffic without requests: PING every 100 ms. It must not count as activity.
    let pinger = {
        let tx = h2.tx.clone();
        tokio::spawn(async move {
            for i in 0u64.. {
                if tx.send(frame(0x6, 0, 0, &i.to_be_bytes())).is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut acks = 0;
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(f) = h2.frames.recv().await {
            if f.ty == 0x6 && f.flags & 1 == 1 {
                acks += 1;
            }
        }
    })
    .await;
    pinger.abort();
    assert!(closed.is_ok(), "a connection without requests stayed open");
    let after = since.elapsed();
    assert!(acks >= 3, "the pings were answered ({acks}), so traffic flowed until the cut");
    // Closed for idleness, not at once: no upper bound, which load could break.
    assert!(after >= Duration::from_secs(1), "closed after {after:?}, before the idle timeout");
    still_serving(&rx, &[], "pings").await;
}

// ---------------------------------------------------------------------------------------------------------------
// Floods

#[tokio::test]
async fn connections_over_the_caps_are_refused_without_harming_those_in_flight() {
    let rx = Receiver::start(&["--secret", SECRET, "--max-connections", "12", "--max-connections-per-ip", "8"]);
    let config = tls_config(&rx, &[b"http/1.1"]);
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let mut in_flight = Vec::new();
    // Eight requests in flight from one address (its cap), four from another: twelve, the global cap.
    for (i, source) in std::iter::repeat_n("127.0.0.1", 8).chain(std::iter::repeat_n("127.0.0.2", 4)).enumerate() {
        let mut tls = tls_from(rx.addr, ip(source), config.clone()).await.unwrap();
        let id = format!("in-flight-{i}");
        let body = audit_event(&id);
        tls.write_all(signed_head(&body, "").as_bytes()).await.unwrap();
        tls.write_all(&body[..body.len() / 2]).await.unwrap();
        tls.flush().await.unwrap();
        in_flight.push((tls, body, id));
    }
    // Over the cap: refused at once, whatever the address.
    for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1", "127.0.0.4"].iter().cycle().take(40) {
        // Refused means closed by the server: `tls_from` gives up (an error too) only on a hang.
        assert!(
            tls_from(rx.addr, ip(source), config.clone()).await.is_err(),
            "a connection over the cap from {source}"
        );
    }
    // The requests in flight are unharmed.
    let mut acknowledged = Vec::new();
    for (tls, body, id) in &mut in_flight {
        tls.write_all(&body[body.len() / 2..]).await.unwrap();
        tls.flush().await.unwrap();
        let head = read_head(tls).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{id}: {head}");
        acknowledged.push(id.clone());
    }
    drop(in_flight);
    // Slots come back when the server sees the connections close.
    let deadline = Instant::now() + WAIT;
    while tls_from(rx.addr, ip("127.0.0.1"), config.clone()).await.is_err() {
        assert!(Instant::now() < deadline, "slots were not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    still_serving(&rx, &acknowledged, "caps").await;
}

#[tokio::test]
async fn oversized_and_endless_bodies_get_413_after_at_most_the_limit() {
    // A body timeout far past every wait: a 413 is then the limit's answer, never the timeout's.
    let rx = Receiver::start(&["--secret", SECRET, "--max-body", "4096", "--body-timeout", "3600"]);
    // Declared too large: refused on the head alone, before a byte of body.
    let mut tls = open_tls(&rx).await;
    let head = "POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 10000000\r\n\r\n";
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    assert!(read_head(&mut tls).await.starts_with("HTTP/1.1 413"));

    // Chunked, one byte over the limit, then silence: answered at once, not after the body timeout.
    let mut tls = open_tls(&rx).await;
    let head = "POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(format!("{:x}\r\n{}\r\n", 4097, "a".repeat(4097)).as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    let answer = read_head(&mut tls).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // Chunked without end: the server answers 413 and stops reading, so the sender is cut off.
    let tls = open_tls(&rx).await;
    let (mut r, mut w) = tokio::io::split(tls);
    let writer = tokio::spawn(async move {
        let mut sent = 0usize;
        w.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("4000\r\n{}\r\n", "a".repeat(0x4000));
        while sent < 256 << 20 {
            if w.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            sent += 0x4000;
        }
        sent
    });
    let answer = read_head(&mut r).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    until_closed(&mut r).await;
    let sent = tokio::time::timeout(WAIT, writer).await.expect("the endless sender is cut off").unwrap();
    eprintln!("endless body: the sender got {sent} bytes out before it was cut off");
    // What got through is bounded by socket buffers, not by how long the sender keeps going.
    assert!(sent < 64 << 20, "{sent} bytes were taken from an endless body");

    let seen = still_serving(&rx, &[], "413").await;
    assert_eq!(rejected(&seen, 413).count(), 3, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_held_in_memory_are_bounded() {
    // 4 KiB bodies: the budget is 64 of them (256 KiB). The body timeout is far past every wait, so no stalled
    // body gives its budget back while the others are still being set up, however slow the machine.
    let rx = Receiver::start(&["--secret", SECRET, "--max-body", "4096", "--body-timeout", "3600"]);
    let config = tls_config(&rx, &[b"http/1.1"]);
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let mut stallers = tokio::task::JoinSet::new();
    const STALLED: usize = 80;
    for _ in 0..STALLED {
        let mut tls = tls_from(rx.addr, "127.0.0.1".parse().unwrap(), config.clone()).await.unwrap();
        let head = "POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n";
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(&[b' '; 4000]).await.unwrap();
        tls.flush().await.unwrap();
        // 96 bytes short of the declared length, forever.
        let answers = answers_tx.clone();
        stallers.spawn(async move {
            let _ = answers.send(read_head(&mut tls).await);
            std::future::pending::<()>().await
        });
    }
    // 80 bodies of 4000 bytes are 320 000 bytes against a budget of 262 144: at most 65 fit, so at least 15 are
    // refused, each at once with a 503. Nothing else can answer while the bodies are stalled.
    let mut busy = 0;
    while busy < 15 {
        let head = tokio::time::timeout(WAIT, answers.recv()).await.expect("the budget refuses the bodies over it");
        let head = head.unwrap();
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert!(head.to_ascii_lowercase().contains("retry-after: 5"), "{head}");
        busy += 1;
    }
    // Closing the stalled connections gives their budget back: a signed event is then accepted again.
    drop(stallers);
    let mut acknowledged = Vec::new();
    let back = tokio::time::timeout(WAIT, async {
        for attempt in 0.. {
            let id = format!("after-budget-{attempt}");
            if rx.client().post_signed(SECRET, &audit_event(&id)).await.status == 200 {
                acknowledged.push(id);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(back.is_ok(), "the stalled bodies' budget was never given back");
    let seen = still_serving(&rx, &acknowledged, "budget").await;
    assert!(rejected(&seen, 503).count() >= 1);
}

#[tokio::test]
async fn ten_thousand_headers_or_a_huge_one_get_431() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let many: String = (0..10_000).map(|i| format!("x-h{i}: v\r\n")).collect();
    let huge = format!("x-huge: {}\r\n", "a".repeat(100_000));
    for extra in [many, huge] {
        let body = audit_event("never");
        let tls = open_tls(&rx).await;
        let (mut r, mut w) = tokio::io::split(tls);
        let head = signed_head(&body, &extra);
        // Written concurrently: the server answers before it has read everything.
        let writer = tokio::spawn(async move {
            let _ = w.write_all(head.as_bytes()).await;
            let _ = w.flush().await;
            w
        });
        let answer = read_head(&mut r).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
        until_closed(&mut r).await;
        drop(writer.await);
    }
    // Over HTTP/2: a header block far over the list size limit, in CONTINUATION frames.
    let mut h2 = H2::connect(&rx).await;
    let mut block = request_block();
    for i in 0..10_000u32 {
        let name = format!("x-h{i}");
        block.extend_from_slice(&[0x00, name.len() as u8]);
        block.extend_from_slice(name.as_bytes());
        block.extend_from_slice(&[1, b'v']);
    }
    let chunks: Vec<&[u8]> = block.chunks(16_000).collect();
    let mut bytes = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let (ty, flags) = if i == 0 { (0x1, 0x1) } else { (0x9, 0) };
        bytes.extend(frame(ty, flags | if last { 0x4 } else { 0 }, 1, chunk));
    }
    let _ = h2.tx.send(bytes);
    let answer = h2.until(|f| (f.ty == 0x1 && f.stream == 1) || f.ty == 0x3 || f.ty == 0x7).await;
    let answer = answer.expect("an answer to the oversized header block");
    // :status as a literal, Huffman-coded "431" (0x69 0x90 0xff): h2 answers an oversized header list itself.
    assert!(answer.ty == 0x1 && answer.payload.ends_with(&[0x83, 0x69, 0x90, 0xff]), "not a 431: {answer:?}");
    still_serving(&rx, &[], "431").await;
}

#[tokio::test]
async fn a_flood_of_refusals_is_summarised_not_listed() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let client = Client::with_alpn(rx.addr, &rx.ca(), &[b"h2"]);
    let Sender::H2(sender) = client.connect().await else { panic!("HTTP/2 expected") };
    const FLOOD: usize = 300;
    let started = Instant::now();
    // Forged deliveries as fast as HTTP/2 multiplexing allows.
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..FLOOD {
        let mut sender = Sender::H2(sender.clone());
        flood.spawn(async move {
            let body = audit_event("forged");
            let headers = [("content-type", "application/json"), ("hpe-webhook-signature", "sha256=00")];
            send(&mut sender, "POST", &headers, &body).await.status
        });
    }
    while let Some(status) = flood.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    // The flood's summary is written when its window ends, even without further traffic.
    let mut individual = 0;
    let mut total = 0;
    while total < FLOOD {
        let rec = rx.next_record();
        assert_eq!((rec["kind"].as_str(), rec["status"].as_u64()), (Some("rejected"), Some(401)), "{rec}");
        match rec["count"].as_u64() {
            Some(n) => {
                assert_eq!(rec["peer"], "127.0.0.1");
                total += n as usize;
            }
            None => {
                individual += 1;
                total += 1;
            }
        }
    }
    eprintln!("refusal flood: {individual} listed, {} summarised", FLOOD - individual);
    assert_eq!(total, FLOOD);
    // At most a few per window the flood lasted (plus the window it started in).
    let windows = started.elapsed().as_secs() as usize + 2;
    assert!(
        individual <= 3 * windows && individual < FLOOD / 4,
        "{individual} of {FLOOD} refusals were listed one by one over {windows} windows"
    );
    still_serving(&rx, &[], "flood").await;
}

// ---------------------------------------------------------------------------------------------------------------
// Garbage and wrong protocols

#[tokio::test]
async fn garbage_bad_sni_and_plain_http_leave_the_server_serving() {
    let rx = Receiver::start(&["--secret", SECRET, "--handshake-timeout", "2"]);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || {
        (0..4096)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect::<Vec<u8>>()
    };
    let inputs: Vec<Vec<u8>> = vec![
        noise(),
        noise(),
        vec![0; 4096],
        b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n".to_vec(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        // A handshake record that claims 16 MB.
        b"\x16\x03\x01\xff\xff\x01\xff\xff\xff".to_vec(),
        // An alert, then a record of an unknown type.
        b"\x15\x03\x03\x00\x02\x02\x28\x63\x03\x03\x00\x01\x00".to_vec(),
        // An SSLv2-style hello.
        b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10".to_vec(),
    ];
    for input in inputs {
        let mut tcp = TcpStream::connect(rx.addr).await.unwrap();
        let _ = tcp.write_all(&input).await;
        let (_, answer) = until_closed(&mut tcp).await;
        assert!(!String::from_utf8_lossy(&answer).contains("HTTP/"), "garbage got an HTTP answer");
    }

    // A ClientHello whose server name is not a valid host name.
    let config = tls_config(&rx, &[b"http/1.1"]);
    let mut client = rustls::ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    let at = hello.windows(9).position(|w| w == b"localhost").expect("SNI in the ClientHello");
    hello[at + 2] = 0;
    hello[at + 5] = b'/';
    let mut tcp = TcpStream::connect(rx.addr).await.unwrap();
    tcp.write_all(&hello).await.unwrap();
    until_closed(&mut tcp).await;

    // A client that asks for another name: it refuses our certificate; nothing else happens.
    let tcp = TcpStream::connect(rx.addr).await.unwrap();
    let other = tokio_rustls::TlsConnector::from(config.clone())
        .connect(ServerName::try_from("attacker.example").unwrap(), tcp)
        .await;
    assert!(other.is_err(), "the certificate is not valid for another name");

    still_serving(&rx, &[], "garbage").await;
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP/2 abuse, with frames written by hand

#[derive(Debug)]
struct Frame {
    ty: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A POST's header block in HPACK with no dynamic table use, so the same bytes serve every stream.
fn request_block() -> Vec<u8> {
    let mut b = vec![0x83, 0x87, 0x84]; // :method POST, :scheme https, :path /
    b.extend_from_slice(&[0x01, 9]);
    b.extend_from_slice(b"localhost"); // :authority, literal without indexing
    b.extend_from_slice(&[0x0f, 0x10, 16]);
    b.extend_from_slice(b"application/json"); // content-type
    b
}

/// A raw HTTP/2 connection: frames out through `tx`, frames in through `frames` (closed when the server closes).
struct H2 {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    frames: mpsc::UnboundedReceiver<Frame>,
}

impl H2 {
    async fn connect(rx: &Receiver) -> H2 {
        let tls = tls_from(rx.addr, "127.0.0.1".parse().unwrap(), tls_config(rx, &[b"h2"])).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut r, mut w) = tokio::io::split(tls);
        let (tx, mut out) = mpsc::unbounded_channel::<Vec<u8>>();
        let (frames_tx, frames) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(bytes) = out.recv().await {
                if w.write_all(&bytes).await.is_err() || w.flush().await.is_err() {
                    break;
                }
            }
        });
        let acks = tx.clone();
        tokio::spawn(async move {
            loop {
                let mut head = [0u8; 9];
                if r.read_exact(&mut head).await.is_err() {
                    break;
                }
                let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
                let mut payload = vec![0; len];
                if r.read_exact(&mut payload).await.is_err() {
                    break;
                }
                let f = Frame {
                    ty: head[3],
                    flags: head[4],
                    stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
                    payload,
                };
                if f.ty == 0x4 && f.flags & 1 == 0 {
                    let _ = acks.send(frame(0x4, 1, 0, &[]));
                }
                if frames_tx.send(f).is_err() {
                    break;
                }
            }
        });
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend(frame(0x4, 0, 0, &[]));
        tx.send(hello).unwrap();
        H2 { tx, frames }
    }

    /// The first frame matching `want`, or `None` when the server closes first. Bounded.
    async fn until(&mut self, want: impl Fn(&Frame) -> bool) -> Option<Frame> {
        tokio::time::timeout(WAIT, async {
            while let Some(f) = self.frames.recv().await {
                if want(&f) {
                    return Some(f);
                }
            }
            None
        })
        .await
        .expect("the server answered or closed within the wait")
    }
}

fn goaway_reason(f: &Frame) -> u32 {
    u32::from_be_bytes([f.payload[4], f.payload[5], f.payload[6], f.payload[7]])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_rapid_resets_and_stream_floods_are_cut_off() {
    let rx = Receiver::start(&["--secret", SECRET, "--body-timeout", "2"]);
    // Rapid reset: open a stream and cancel it at once, thousands of times.
    let mut h2 = H2::connect(&rx).await;
    let mut bytes = Vec::new();
    for i in 0..20_000u32 {
        let id = 2 * i + 1;
        bytes.extend(frame(0x1, 0x4, id, &request_block()));
        bytes.extend(frame(0x3, 0, id, &8u32.to_be_bytes()));
    }
    let _ = h2.tx.send(bytes);
    // A legitimate delivery on another connection is served meanwhile.
    let reply = rx.client().post_signed(SECRET, &audit_event("legit-during-resets")).await;
    assert_eq!(reply.status, 200);
    let goaway = h2.until(|f| f.ty == 0x7).await;
    eprintln!("rapid reset: {goaway:?}");
    let goaway = goaway.expect("the resetting connection is sent away");
    assert_eq!(goaway_reason(&goaway), 0xb, "ENHANCE_YOUR_CALM expected: {goaway:?}");

    // Far more streams than allowed at once, each left waiting for its body.
    let mut h2 = H2::connect(&rx).await;
    let mut bytes = Vec::new();
    for i in 0..1_000u32 {
        bytes.extend(frame(0x1, 0x4, 2 * i + 1, &request_block()));
    }
    let _ = h2.tx.send(bytes);
    let mut refused = 0;
    let mut answered = 0;
    let mut goaway = None;
    let ended = tokio::time::timeout(WAIT, async {
        while let Some(f) = h2.frames.recv().await {
            match f.ty {
                0x3 => refused += 1,
                0x1 => answered += 1,
                0x7 => {
                    goaway = Some(goaway_reason(&f));
                    break;
                }
                _ => {}
            }
            if refused + answered >= 1_000 {
                break;
            }
        }
    })
    .await;
    eprintln!("stream flood: {refused} refused, {answered} answered, goaway {goaway:?}");
    assert!(ended.is_ok(), "the stream flood was neither answered nor cut off");
    assert!(answered <= 128, "{answered} streams were served at once, over the limit of 128");
    assert!(goaway.is_some() || refused > 0, "excess streams were neither refused nor the connection closed");
    still_serving(&rx, &["legit-during-resets".to_owned()], "h2").await;
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile content

#[tokio::test]
async fn hostile_events_are_stored_and_printed_safely() {
    let rx = Receiver::start(&["--secret", SECRET, "--max-body", "2097152"]);
    let client = rx.client();

    // Escape sequences: escaped ones (JSON requires it for ESC and BEL) and raw C1 controls and bidi overrides.
    let description = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}gnp.exe\u{7f}";
    let mut event: Value = serde_json::from_slice(&audit_event("escapes")).unwrap();
    event["data"]["description"] = json!(description);
    let body = serde_json::to_vec(&event).unwrap();
    assert!(body.windows(2).any(|w| w == "\u{9b}".as_bytes()), "the C1 control is sent raw");
    assert_eq!(client.post_signed(SECRET, &body).await.status, 200);
    let line = rx.next_line();
    assert!(!line.chars().any(glwatch::text::is_unsafe), "the NDJSON line holds a raw control: {line:?}");
    let rec: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(rec["event"]["data"]["description"], description, "stored as the same value");

    // A 1 MB description.
    let big = "x".repeat(1_000_000);
    let mut event: Value = serde_json::from_slice(&audit_event("big")).unwrap();
    event["data"]["description"] = json!(big);
    assert_eq!(client.post_signed(SECRET, &serde_json::to_vec(&event).unwrap()).await.status, 200);
    let rec = rx.next_record();
    assert_eq!(rec["event"]["data"]["description"].as_str().map(str::len), Some(1_000_000));

    // Deep nesting, signed: refused with 400 (not a crash), whatever the shape.
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let deep = format!(
            r#"{{"specversion":"1.0","id":"deep","source":"s","type":"t","data":{}1{}}}"#,
            open.repeat(10_000),
            close.repeat(10_000)
        );
        let reply = client.post_signed(SECRET, deep.as_bytes()).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.json()["error"].as_str().unwrap().contains("nested deeper"));
        // The same as a would-be challenge, unsigned: recognising a challenge must not recurse either.
        let challenge =
            format!(r#"{{"data":{{"challengeRequest":"x","n":{}1{}}}}}"#, open.repeat(10_000), close.repeat(10_000));
        assert_eq!(client.post(&[], challenge.as_bytes()).await.status, 400);
    }

    // Invalid UTF-8 inside a signed body.
    let mut bad = audit_event("bad-utf8");
    let at = bad.windows(6).position(|w| w == b"logged").unwrap();
    bad[at] = 0xff;
    assert_eq!(client.post_signed(SECRET, &bad).await.status, 400);

    // A refused challenge quoting escape sequences is recorded printable.
    let challenge = json!({"data": {"challengeRequest": "\u{9b}2J\u{202e}not-a-uuid"}});
    assert_eq!(client.post(&[], &serde_json::to_vec(&challenge).unwrap()).await.status, 400);

    // The two accepted events were read and checked above, in order.
    let seen = still_serving(&rx, &[], "hostile").await;
    for rec in &seen {
        let text = rec.to_string();
        assert!(!text.chars().any(glwatch::text::is_unsafe), "{text}");
    }
    assert!(seen.iter().any(|r| r["kind"] == "challenge" && r["answered"] == false), "{seen:?}");
    assert!(rejected(&seen, 400).any(|r| r["reason"].as_str().unwrap().contains("nested deeper")));

    // Exported safely: a formula in a cell is neutralised and no terminal control reaches the CSV.
    let mut formula: Value = serde_json::from_slice(&audit_event("formula")).unwrap();
    formula["data"]["user"]["username"] = json!("=HYPERLINK(\"http://evil.example\",\"click\")");
    assert_eq!(client.post_signed(SECRET, &serde_json::to_vec(&formula).unwrap()).await.status, 200);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["export", "--format", "csv"])
        .current_dir(&rx.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(!csv.chars().any(|c| !matches!(c, '\n' | '\r') && glwatch::text::is_unsafe(c)));
    let escapes_row = csv.lines().find(|l| l.contains(",escapes,")).expect("the hostile event is exported");
    assert!(escapes_row.contains("\\u{1b}]0;pwned"), "{escapes_row}");
    let formula_row = csv.lines().find(|l| l.contains(",formula,")).expect("the formula event is exported");
    assert!(formula_row.contains(",\"'=HYPERLINK("), "{formula_row}");
}

#[tokio::test]
async fn authorization_values_never_reach_records_logs_or_answers() {
    const TOKEN: &str = "tok-5f2c1d-do-not-leak";
    let bearer = format!("Bearer {TOKEN}");
    // Every log line the receiver can produce, including the HTTP/2 library's.
    let rx = Receiver::start_with_env(&["--secret", SECRET, "--api-key", "the-real-key"], &[("GLWATCH_LOG", "trace")]);
    let mut answers = Vec::new();
    for alpn in [&b"http/1.1"[..], &b"h2"[..]] {
        let client = Client::with_alpn(rx.addr, &rx.ca(), &[alpn]);
        let body = audit_event("auth");
        let sig = sign(SECRET, &body);
        type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>);
        let cases: Vec<Case> = vec![
            ("POST", vec![("content-type", "application/json"), ("hpe-webhook-signature", &sig)], body.clone()),
            ("POST", vec![("content-type", "text/plain")], body.clone()),
            ("POST", vec![("content-type", "application/json"), ("hpe-webhook-signature", "sha256=00")], body.clone()),
            ("GET", vec![], vec![]),
        ];
        // Too large: declared on HTTP/1.1 (answered before the body), sent on HTTP/2 (answered at the limit).
        let mut cases = cases;
        if alpn == b"h2" {
            cases.push(("POST", vec![("content-type", "application/json")], vec![b' '; 1_100_000]));
        } else {
            cases.push(("POST", vec![("content-type", "application/json"), ("content-length", "99999999")], vec![]));
        }
        for (method, mut headers, body) in cases {
            headers.push(("authorization", &bearer));
            let reply = client.request(method, &headers, &body).await;
            assert_eq!(reply.status / 100, 4, "{method} {headers:?}: {}", reply.status);
            answers.push(format!("{:?} {}", reply.headers, reply.body));
        }
    }
    let seen = still_serving_with_key(&rx).await;
    let stderr = rx.stderr_now().join("\n");
    assert!(stderr.len() > 1000, "trace logging is on, so there is plenty of log to search");
    for (place, text) in [("records", seen.join("\n")), ("logs", stderr), ("answers", answers.join("\n"))] {
        assert!(!text.contains(TOKEN), "the Authorization value leaked into the {place}");
    }
    assert!(!seen.join("\n").contains("the-real-key"));
    let journal = std::fs::read_to_string(rx.dir.join("glwatch-data/journal.jsonl")).expect("the journal exists");
    assert!(
        !journal.contains(TOKEN) && !journal.contains("the-real-key"),
        "an Authorization value reached the journal"
    );
}

/// `still_serving` for a receiver that requires the API key; returns the records as printed.
async fn still_serving_with_key(rx: &Receiver) -> Vec<String> {
    let body = audit_event("with-key");
    let sig = sign(SECRET, &body);
    let reply = rx.client().post(&[("hpe-webhook-signature", &sig), ("authorization", "the-real-key")], &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut lines = Vec::new();
    loop {
        let line = rx.next_line();
        let done = line.contains("\"with-key\"");
        lines.push(line);
        if done {
            return lines;
        }
    }
}
