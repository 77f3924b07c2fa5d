//! Draws the VGA text screen in a terminal with ANSI escape sequences (ECMA-48 CUP, ED, SGR;
//! the aixterm bright colours 90-97/100-107 and DEC private mode 25 for the cursor).
//!
//! Colours: the 16 VGA attribute colours map to the 16 ANSI ones (VGA's order is blue-green-
//! red, ANSI's red-green-blue, so the bits are swapped). Attribute bit 7 is drawn as a bright
//! background, what VGA BIOSes select for 16 background colours; terminals' blink is too
//! unreliable to be worth mapping.
//!
//! Only rows that differ from `prev` are redrawn, so a front-end thread can call this at
//! every publication of the screen cheaply.

use std::io::{self, Write};

use devices::vga::{cp437, DisplayHandle, Screen, TextScreen};

/// ANSI colour number for VGA colour bits 2:0 (blue, green, red).
const VGA_TO_ANSI: [u8; 8] = [0, 4, 2, 6, 1, 5, 3, 7];

/// SGR parameters for `attr`.
fn sgr(attr: u8) -> String {
    let fg = attr & 0x0F;
    let bg = attr >> 4;
    let fg_code = if fg & 8 != 0 { 90 } else { 30 } + VGA_TO_ANSI[(fg & 7) as usize];
    let bg_code = if bg & 8 != 0 { 100 } else { 40 } + VGA_TO_ANSI[(bg & 7) as usize];
    format!("\x1b[0;{fg_code};{bg_code}m")
}

fn draw_row(screen: &TextScreen, row: usize, out: &mut impl Write) -> io::Result<()> {
    let mut line = format!("\x1b[{};1H", row + 1);
    let mut attr = None;
    for &cell in screen.row(row) {
        let a = (cell >> 8) as u8;
        if attr != Some(a) {
            line.push_str(&sgr(a));
            attr = Some(a);
        }
        line.push(cp437(cell as u8));
    }
    out.write_all(line.as_bytes())
}

/// Draws `now`, redrawing only the rows that differ from `prev` (everything, after clearing
/// the terminal, when there is no previous screen or its size differs), and leaves the
/// terminal cursor where the VGA cursor is, shown or hidden.
pub fn render(prev: Option<&TextScreen>, now: &TextScreen, out: &mut impl Write) -> io::Result<()> {
    let prev = prev.filter(|p| p.cols == now.cols && p.rows == now.rows);
    let mut buf = Vec::new();
    if prev.is_none() {
        buf.extend_from_slice(b"\x1b[0m\x1b[2J");
    }
    for row in 0..now.rows {
        if prev.is_none_or(|p| p.row(row) != now.row(row)) {
            draw_row(now, row, &mut buf)?;
        }
    }
    buf.extend_from_slice(b"\x1b[0m");
    match now.cursor {
        Some((row, col)) => write!(buf, "\x1b[{};{}H\x1b[?25h", row + 1, col + 1)?,
        None => buf.extend_from_slice(b"\x1b[?25l"),
    }
    out.write_all(&buf)?;
    out.flush()
}

/// Shows the guest's screen in this terminal from a thread of its own, redrawing what changed
/// each time the VGA card publishes. The terminal's alternate screen keeps the user's
/// scrollback intact.
pub fn spawn(display: DisplayHandle) {
    std::thread::spawn(move || {
        let mut out = io::stdout();
        let _ = out.write_all(b"\x1b[?1049h\x1b[2J");
        let mut seen = 0;
        let mut prev: Option<TextScreen> = None;
        loop {
            let (generation, screen) =
                display.wait_changed(seen, std::time::Duration::from_millis(500));
            if generation == seen {
                continue;
            }
            seen = generation;
            let result = match screen {
                Screen::Text(t) => {
                    let r = render(prev.as_ref(), &t, &mut out);
                    prev = Some(t);
                    r
                }
                Screen::Graphics { width, height, bpp } => {
                    prev = None;
                    write!(
                        out,
                        "\x1b[0m\x1b[2J\x1b[H[graphics mode {width}x{height}x{bpp}: use the window display]"
                    )
                }
                Screen::Blank => {
                    prev = None;
                    out.write_all(b"\x1b[0m\x1b[2J")
                }
            };
            if result.and_then(|_| out.flush()).is_err() {
                return;
            }
        }
    });
}

/// Leaves the alternate screen (at exit), restoring the user's terminal contents.
pub fn restore_terminal() {
    let mut out = io::stdout();
    let _ = out.write_all(b"\x1b[0m\x1b[?25h\x1b[?1049l");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(rows: &[&str], attr: u8) -> TextScreen {
        let cols = rows[0].len();
        let mut t = TextScreen::new(cols, rows.len());
        for (r, s) in rows.iter().enumerate() {
            for (c, b) in s.bytes().enumerate() {
                t.cells[r * cols + c] = b as u16 | (attr as u16) << 8;
            }
        }
        t
    }

    fn render_to_string(prev: Option<&TextScreen>, now: &TextScreen) -> String {
        let mut out = Vec::new();
        render(prev, now, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn full_draw_clears_and_draws_every_row() {
        let mut t = screen(&["ab", "cd"], 0x07);
        t.cursor = Some((1, 0));
        let s = render_to_string(None, &t);
        assert_eq!(
            s,
            "\x1b[0m\x1b[2J\
             \x1b[1;1H\x1b[0;37;40mab\
             \x1b[2;1H\x1b[0;37;40mcd\
             \x1b[0m\x1b[2;1H\x1b[?25h"
        );
    }

    #[test]
    fn only_changed_rows_are_redrawn() {
        let a = screen(&["one", "two", "six"], 0x07);
        let mut b = a.clone();
        b.cells[3] = b'T' as u16 | 0x0700;
        let s = render_to_string(Some(&a), &b);
        assert!(s.contains("\x1b[2;1H") && s.contains("Two"));
        assert!(!s.contains("\x1b[1;1H") && !s.contains("\x1b[3;1H"));
        assert!(!s.contains("\x1b[2J"), "no clear");
        assert!(s.ends_with("\x1b[?25l"), "cursor hidden");
        // A different size redraws everything.
        let c = screen(&["one", "two"], 0x07);
        assert!(render_to_string(Some(&a), &c).contains("\x1b[2J"));
    }

    #[test]
    fn vga_colours_map_to_ansi() {
        // Blue on black, then bright yellow (VGA 14) on red (VGA 4) with bit 7: bright red.
        let mut t = screen(&["xy"], 0x01);
        t.cells[1] = b'y' as u16 | 0xCE00;
        let s = render_to_string(None, &t);
        assert!(s.contains("\x1b[0;34;40mx"));
        assert!(s.contains("\x1b[0;93;101my"));
        assert_eq!(sgr(0x07), "\x1b[0;37;40m");
        assert_eq!(sgr(0x08), "\x1b[0;90;40m", "dark grey");
        assert_eq!(sgr(0x36), "\x1b[0;33;46m", "brown on cyan");
    }

    #[test]
    fn cp437_glyphs_are_translated() {
        let mut t = screen(&["  "], 0x07);
        t.cells[0] = 0xC9 | 0x0700;
        t.cells[1] = 0x0700; // NUL shows as a blank
        let s = render_to_string(None, &t);
        assert!(s.contains("\x1b[0;37;40m╔ "));
    }
}
