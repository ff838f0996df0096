//! The detach key sequence, ssh's escape: at the start of a line (the first key, or after
//! Enter), `~` is held back until the next key decides. `~.` detaches, `~~` sends one `~`, and
//! `~` with any other key sends both. Shells and editors use neither sequence at a line start.

/// The escape character.
const ESCAPE: u8 = b'~';
/// After the escape character: detach.
const DETACH: u8 = b'.';

/// The state of the key stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escape {
    /// The next key starts a line.
    line_start: bool,
    /// A `~` at a line start, waiting for the next key.
    held: bool,
}

impl Default for Escape {
    fn default() -> Self {
        Self { line_start: true, held: false }
    }
}

/// What typed bytes amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// What to send to the session.
    pub send: Vec<u8>,
    /// The detach sequence was typed: stop (anything typed after it is dropped).
    pub detach: bool,
}

impl Escape {
    /// Feeds typed bytes through the state machine.
    pub fn feed(&mut self, typed: &[u8]) -> Keys {
        let mut send = Vec::with_capacity(typed.len());
        for &key in typed {
            if self.held {
                self.held = false;
                match key {
                    DETACH => return Keys { send, detach: true },
                    ESCAPE => {
                        send.push(ESCAPE);
                        self.line_start = false;
                        continue;
                    }
                    _ => send.push(ESCAPE),
                }
            } else if self.line_start && key == ESCAPE {
                self.held = true;
                continue;
            }
            send.push(key);
            self.line_start = key == b'\r' || key == b'\n';
        }
        Keys { send, detach: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut escape = Escape::default();
        let mut sent = Vec::new();
        for chunk in chunks {
            let keys = escape.feed(chunk);
            sent.extend(keys.send);
            if keys.detach {
                return (sent, true);
            }
        }
        (sent, false)
    }

    #[test]
    fn tilde_dot_after_a_newline_detaches() {
        assert_eq!(feed_all(&[b"ls\r~.rest"]), (b"ls\r".to_vec(), true));
        assert_eq!(feed_all(&[b"ls\n", b"~", b"."]), (b"ls\n".to_vec(), true));
        assert_eq!(feed_all(&[b"~."]), (Vec::new(), true), "at the very start");
    }

    #[test]
    fn tilde_tilde_sends_one_tilde() {
        assert_eq!(feed_all(&[b"~~"]), (b"~".to_vec(), false));
        assert_eq!(feed_all(&[b"\r~", b"~."]), (b"\r~.".to_vec(), false), "no longer a line start");
    }

    #[test]
    fn tilde_mid_line_passes_through() {
        assert_eq!(feed_all(&[b"cd ~.; ls ~/x"]), (b"cd ~.; ls ~/x".to_vec(), false));
        assert_eq!(feed_all(&[b"a~."]), (b"a~.".to_vec(), false));
    }

    #[test]
    fn a_held_tilde_goes_out_with_the_next_key() {
        let mut escape = Escape::default();
        assert_eq!(escape.feed(b"~"), Keys { send: Vec::new(), detach: false }, "held back");
        assert_eq!(escape.feed(b"/x"), Keys { send: b"~/x".to_vec(), detach: false });
        assert_eq!(feed_all(&[b"~\r~."]), (b"~\r".to_vec(), true), "~ Enter starts a line");
    }
}
