//! Text as people should read it, shared by the checks on input and the
//! subjects of emails.

/// Whether `c` reorders or hides text: bidirectional controls (a
/// right-to-left override turns `exe.txt` into `txt.exe` on screen) and
/// zero-width characters.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{2060}' | '\u{FEFF}'
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// One-line text as people should read it: bidirectional controls and
/// zero-width characters removed. Zero-width joiners stay between two
/// non-ASCII characters, where they join emoji (👩‍💻) and letters.
pub fn visible(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    for (i, &c) in chars.iter().enumerate() {
        if is_invisible(c) {
            continue;
        }
        if matches!(c, '\u{200C}' | '\u{200D}') {
            let joins = |n: Option<&char>| n.is_some_and(|n| !n.is_ascii() && !is_invisible(*n));
            if !(i > 0 && joins(chars.get(i - 1)) && joins(chars.get(i + 1))) {
                continue;
            }
        }
        out.push(c);
    }
    out
}
