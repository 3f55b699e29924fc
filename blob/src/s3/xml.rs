//! Just enough XML for S3's answers (list results, multipart upload ids, error codes): the text of simple,
//! non-nested elements by tag name, unescaped. S3 bodies are machine-written and flat where we read them.

/// The inner text of each `<tag>...</tag>` in `xml`, in order, entities not yet decoded.
pub(crate) fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// The unescaped text of the first `<tag>` element.
pub(crate) fn first(xml: &str, tag: &str) -> Option<String> {
    elements(xml, tag).first().map(|text| unescape(text))
}

/// Decodes the five predefined entities and numeric character references.
pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let entity_end = rest[amp..].find(';').map(|i| amp + i);
        let decoded = entity_end.and_then(|end| {
            let name = &rest[amp + 1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .map(|hex| u32::from_str_radix(hex, 16))
                    .or_else(|| name.strip_prefix('#').map(str::parse))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[amp + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an element's content.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_list_results() {
        let xml = r#"<?xml version="1.0"?><ListBucketResult xmlns="x"><IsTruncated>true</IsTruncated>
            <Contents><Key>a&amp;b/c&#x20;d</Key><Size>5</Size></Contents><Contents><Key>e</Key><Size>7</Size></Contents>
            <NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"#;
        let contents = elements(xml, "Contents");
        assert_eq!(contents.len(), 2);
        assert_eq!(first(contents[0], "Key").as_deref(), Some("a&b/c d"));
        assert_eq!(first(contents[1], "Size").as_deref(), Some("7"));
        assert_eq!(first(xml, "NextContinuationToken").as_deref(), Some("tok"));
        assert_eq!(unescape("x &bogus; &#60;"), "x &bogus; <");
        assert_eq!(escape("\"a\"&<"), "&quot;a&quot;&amp;&lt;");
    }
}
