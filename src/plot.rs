//! What every SVG chart of medcoder shares: the frame (size, white ground, title) and the grid of
//! percentages. The charts themselves (back-test, reliability, replay) draw their own lines.

use std::fmt::Write;

/// Text for SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// An SVG document of `w` x `h` with a white ground and `title` centred on top; close it with
/// `end`.
pub fn start(w: f64, h: f64, title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#, w / 2.0, escape(title));
    s
}

pub fn end(mut s: String) -> String {
    s.push_str("</svg>\n");
    s
}

/// Horizontal lines and labels at 0-100% from `x0` to `x1`; with `x` (a share to its position),
/// vertical ones too, labelled below.
pub fn percent_grid(s: &mut String, x0: f64, x1: f64, y: &dyn Fn(f64) -> f64, x: Option<&dyn Fn(f64) -> f64>) {
    for i in 0..=10 {
        let v = i as f64 / 10.0;
        let _ = writeln!(s, r##"<line x1="{x0}" y1="{}" x2="{x1}" y2="{}" stroke="#ddd"/>"##, y(v), y(v));
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">{:.0}%</text>"#, x0 - 6.0, y(v) + 4.0, v * 100.0);
        if let Some(x) = x {
            let _ = writeln!(s, r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##, x(v), y(0.0), x(v), y(1.0));
            let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{:.0}%</text>"#, x(v), y(0.0) + 16.0, v * 100.0);
        }
    }
}
