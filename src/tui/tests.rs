//! Tests of the main loop on `TestBackend`: records through the channel, keys through a scripted input stream,
//! effects (copy, export, quit) carried out.

use super::*;
use crate::tui::view::tests::{info, lines, sample_records};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::backend::TestBackend;

#[derive(Default)]
struct Recorded(Vec<String>);

impl Clipboard for Recorded {
    fn copy(&mut self, text: &str) -> io::Result<()> {
        self.0.push(text.to_owned());
        Ok(())
    }
}

fn key(c: char) -> io::Result<Event> {
    let code = match c {
        '\n' => KeyCode::Enter,
        '\x1b' => KeyCode::Esc,
        c => KeyCode::Char(c),
    };
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn input_channel() -> (mpsc::UnboundedSender<io::Result<Event>>, impl Stream<Item = io::Result<Event>> + Unpin) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    (tx, futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

#[test]
fn osc52_writes_one_sequence_with_the_text_in_base64() {
    let copied = |text: &str| {
        let mut out = Vec::new();
        Osc52(&mut out).copy(text).unwrap();
        String::from_utf8(out).unwrap()
    };
    // RFC 4648's vectors cover every padding case.
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(copied(plain), format!("\x1b]52;c;{encoded}\x07"));
    }
    let s = copied("{\"a\":\"\x1b[2J\"}");
    assert_eq!(s, "\x1b]52;c;eyJhIjoiG1sySiJ9\x07");
    assert_eq!(s.matches('\x1b').count(), 1, "the payload carries no raw escape");
}

#[tokio::test(start_paused = true)]
async fn the_loop_drains_records_applies_keys_copies_exports_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let mut i = info();
    i.export_dir = dir.path().to_path_buf();
    let mut app = App::new(i, 1000);
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    let (rec_tx, mut rec_rx) = mpsc::channel(64);
    let (keys, input) = input_channel();
    let dropped = AtomicU64::new(0);
    let mut clipboard = Recorded::default();

    let driver = async {
        for r in sample_records() {
            rec_tx.send(r.into()).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        dropped.store(7, Ordering::Relaxed);
        for c in "/logged in\n".chars() {
            keys.send(key(c)).unwrap();
        }
        keys.send(key('y')).unwrap();
        keys.send(key('e')).unwrap();
        // The export runs on a blocking thread; wait for its report, in bounded steps of virtual time.
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if std::fs::read_dir(dir.path()).unwrap().count() == 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        keys.send(Ok(Event::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollUp,
            column: 1,
            row: 5,
            modifiers: KeyModifiers::NONE,
        })))
        .unwrap();
        keys.send(key('q')).unwrap();
    };
    let (result, ()) =
        tokio::join!(run_loop(&mut terminal, &mut app, input, &mut rec_rx, &dropped, &mut clipboard), driver);
    result.unwrap();

    assert_eq!(app.events_total(), 3);
    assert_eq!(app.view_len(), 1, "the typed filter applies");
    assert_eq!(app.filter().text, "logged in");
    assert!(!app.following(), "the wheel moved the selection by hand");
    assert_eq!(clipboard.0.len(), 1);
    assert!(clipboard.0[0].contains("\"description\":\"User john.doe@hpedev.io logged in\""));
    let status = app.status().unwrap_or_default().to_owned();
    assert!(status.starts_with("exported 1 event to "), "{status}");
    let mut files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 2);
    let csv = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(csv.lines().count(), 2, "header and the one filtered event");
    assert!(csv.contains("uJoQ5JMB_HAPiq2sSllu"));
    let jsonl = std::fs::read_to_string(&files[1]).unwrap();
    assert_eq!(jsonl.trim_end(), sample_records()[3].to_line());

    // What the screen showed when the operator quit.
    let s = lines(terminal.backend().buffer());
    let screen = s.join("\n");
    assert!(screen.contains("filter /logged in  1 of 3 events shown"), "{screen}");
    assert!(screen.contains("7 not shown (screen too slow)"), "{screen}");
    assert!(screen.contains("exported 1 event to"), "{screen}");
}

#[tokio::test(start_paused = true)]
async fn the_loop_keeps_running_when_the_receiver_stops_and_ends_with_its_input() {
    let mut app = App::new(info(), 10);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let (rec_tx, mut rec_rx) = mpsc::channel::<crate::tui::Feed>(4);
    let (keys, input) = input_channel();
    let dropped = AtomicU64::new(0);
    let driver = async {
        drop(rec_tx);
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(keys);
    };
    let mut clipboard = Recorded::default();
    let (result, ()) =
        tokio::join!(run_loop(&mut terminal, &mut app, input, &mut rec_rx, &dropped, &mut clipboard), driver);
    result.unwrap();
    assert!(app.receiver_closed());
    let screen = lines(terminal.backend().buffer()).join("\n");
    assert!(screen.contains("receiver stopped"), "{screen}");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_records_costs_one_draw_per_frame() {
    // Count draws with a backend that counts flushes.
    struct Counting(TestBackend, usize);
    impl Backend for Counting {
        fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
        where
            I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
        {
            self.0.draw(content)
        }
        fn hide_cursor(&mut self) -> io::Result<()> {
            self.0.hide_cursor()
        }
        fn show_cursor(&mut self) -> io::Result<()> {
            self.0.show_cursor()
        }
        fn get_cursor_position(&mut self) -> io::Result<ratatui::layout::Position> {
            self.0.get_cursor_position()
        }
        fn set_cursor_position<P: Into<ratatui::layout::Position>>(&mut self, p: P) -> io::Result<()> {
            self.0.set_cursor_position(p)
        }
        fn clear(&mut self) -> io::Result<()> {
            self.0.clear()
        }
        fn size(&self) -> io::Result<ratatui::layout::Size> {
            self.0.size()
        }
        fn window_size(&mut self) -> io::Result<ratatui::backend::WindowSize> {
            self.0.window_size()
        }
        fn flush(&mut self) -> io::Result<()> {
            self.1 += 1;
            self.0.flush()
        }
    }
    let mut app = App::new(info(), 100_000);
    let mut terminal = Terminal::new(Counting(TestBackend::new(120, 30), 0)).unwrap();
    let (rec_tx, mut rec_rx) = mpsc::channel(20_000);
    let (keys, input) = input_channel();
    let dropped = AtomicU64::new(0);
    let template = sample_records().remove(1);
    let driver = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..10_000 {
            rec_tx.try_send(template.clone().into()).unwrap();
        }
        // 100 ms of virtual time is three frames.
        tokio::time::sleep(Duration::from_millis(100)).await;
        keys.send(key('q')).unwrap();
    };
    let mut clipboard = Recorded::default();
    let (result, ()) =
        tokio::join!(run_loop(&mut terminal, &mut app, input, &mut rec_rx, &dropped, &mut clipboard), driver);
    result.unwrap();
    assert_eq!(app.events_total(), 10_000);
    let draws = terminal.backend().1;
    // At most one draw per 33 ms frame over ~200 ms, whatever the number of records.
    assert!((2..=8).contains(&draws), "{draws} draws");
}
