//! Escaping for the few places that build HTML or XML by hand (the page title
//! in the head, feeds, emails). Views escape their text themselves.

/// Text made safe inside an element or a quoted attribute, in HTML and in XML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("</title><svg onload='x'>&\""),
            "&lt;/title&gt;&lt;svg onload=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
