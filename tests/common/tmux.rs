//! A terminal for end-to-end tests: a tmux server of our own (its own socket), so a test neither sees nor
//! disturbs any other tmux, with a plain bash in a session of a given size, read back with `capture-pane`.

use super::WAIT;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

/// The session (and its only pane) every helper addresses.
pub const TARGET: &str = "dash";
/// Longest wait for a screen to stop changing once it shows what a test waits for.
pub const SETTLE: Duration = Duration::from_secs(2);
/// The shell's prompt, unmistakable on a captured screen.
pub const PROMPT: &str = "glwatch-e2e-prompt$";

impl Tmux {
    /// Starts a `width` x `height` session running bash (no rc files, GLWATCH_SECRET unset) in `dir`, and waits
    /// for its prompt.
    pub async fn shell(dir: &Path, width: u16, height: u16) -> Tmux {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let tmux = Tmux { socket: format!("glwatch-e2e-{}-{nanos}", std::process::id()) };
        let (w, h) = (width.to_string(), height.to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-x",
            &w,
            "-y",
            &h,
            "-s",
            TARGET,
            "-c",
            dir.to_str().unwrap(),
            "env",
            "-u",
            "GLWATCH_SECRET",
            &format!("PS1={PROMPT} "),
            "bash",
            "--norc",
            "--noprofile",
        ]);
        tmux.wait_for(PROMPT).await;
        tmux
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (the CI script installs it)");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", TARGET]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", TARGET];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", TARGET, "-l", text]);
    }

    /// Types a command line and presses Enter.
    pub fn command(&self, line: &str) {
        self.type_text(line);
        self.keys(&["Enter"]);
    }

    /// Whether the pane is on the alternate screen (a full-screen program owns it).
    pub fn alternate_on(&self) -> bool {
        let out = self.run(&["display", "-p", "-t", TARGET, "#{alternate_on}"]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Polls the screen until `pred` holds, failing with the last screen after [`WAIT`]. The screen returned is
    /// a settled one: a capture can catch a frame half written (the header updated, the rows not yet), so once
    /// `pred` holds the screen is captured again until two captures agree, for at most [`SETTLE`].
    pub async fn wait_until(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut screen = String::new();
        let shown = super::wait_until(WAIT, || {
            screen = self.screen();
            pred(&screen)
        })
        .await;
        assert!(shown, "screen never showed {what}; last screen:\n{screen}");
        self.settle(screen, &pred).await
    }

    async fn settle(&self, mut screen: String, pred: &impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + SETTLE;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(40)).await;
            let again = self.screen();
            if again == screen {
                break;
            }
            if pred(&again) {
                screen = again;
            }
        }
        screen
    }

    pub async fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |s| s.contains(text)).await
    }

    /// Waits for the shell prompt to be the last thing on the screen, with the normal screen back.
    pub async fn wait_for_prompt(&self, what: &str) -> String {
        let screen = self.wait_until(what, |s| s.trim_end().ends_with(PROMPT)).await;
        assert!(!self.alternate_on(), "the alternate screen was left on:\n{screen}");
        screen
    }

    /// Checks the terminal takes input normally (raw mode is off): a command echoes and runs.
    pub async fn assert_shell_usable(&self) {
        self.command("echo restored-$((40+2))");
        self.wait_for("restored-42").await;
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

/// The table rows: lines starting with a time, left of the detail pane.
pub fn table_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.len() > 9 && l.as_bytes()[2] == b':' && l.as_bytes()[5] == b':' && l.contains('│'))
        .map(|l| l.split('│').next().unwrap_or(l))
        .collect()
}
