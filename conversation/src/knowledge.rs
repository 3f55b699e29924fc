//! An agent's knowledge documents and its `knowledge_lookup` tool: documents are cut into passages of a few
//! hundred characters (paragraphs, merged or split at sentence ends), and a query ranks them by BM25 over
//! words. In memory and synchronous: a lookup over a few thousand passages takes well under a millisecond,
//! so the engine answers the tool call in the same tick. Words are split on whitespace and punctuation only,
//! so Devanagari and other scripts with combining marks keep their words whole.

use std::collections::HashMap;

/// Passages aim for this many characters; paragraphs are merged up to it and split beyond twice it.
const PASSAGE_CHARS: usize = 600;
/// BM25 parameters (the usual ones).
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Passages a lookup returns.
pub const LOOKUP_TOP_K: usize = 3;

/// Words too common to rank by.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how", "i",
    "in", "is", "it", "me", "my", "of", "on", "or", "our", "please", "tell", "that", "the", "their", "there", "this",
    "to", "was", "we", "what", "when", "where", "which", "who", "will", "with", "you", "your",
];

/// One passage of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// The document it came from (its file name).
    pub source: String,
    /// The passage's text, as given to the model.
    pub text: String,
    terms: HashMap<String, u32>,
    len: u32,
}

/// The passages of an agent's documents, indexed for BM25.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KnowledgeBase {
    passages: Vec<Passage>,
    /// Passages containing each term.
    document_frequency: HashMap<String, u32>,
    average_len: f32,
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| c.is_whitespace() || c.is_ascii_punctuation() || "।॥“”‘’–—…".contains(c))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !(STOPWORDS.contains(&w.as_str()) || w.len() == 1 && w.is_ascii()))
}

/// Cuts a document into passages: paragraphs merged up to [`PASSAGE_CHARS`], long ones split at sentence ends.
fn passages_of(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for paragraph in text.split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")) {
        if paragraph.is_empty() {
            continue;
        }
        let pieces: Vec<String> = if paragraph.len() > 2 * PASSAGE_CHARS {
            let mut pieces = Vec::new();
            let mut piece = String::new();
            for sentence in paragraph.split_inclusive(['.', '!', '?', '।']) {
                if !piece.is_empty() && piece.len() + sentence.len() > PASSAGE_CHARS {
                    pieces.push(std::mem::take(&mut piece));
                }
                piece.push_str(sentence);
            }
            if !piece.trim().is_empty() {
                pieces.push(piece);
            }
            pieces
        } else {
            vec![paragraph]
        };
        for piece in pieces {
            if !current.is_empty() && current.len() + piece.len() > PASSAGE_CHARS {
                out.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(piece.trim());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl KnowledgeBase {
    /// Indexes `(name, text)` documents.
    pub fn from_documents<'a>(documents: impl IntoIterator<Item = (&'a str, &'a str)>) -> KnowledgeBase {
        let mut base = KnowledgeBase::default();
        for (source, text) in documents {
            for text in passages_of(text) {
                let mut terms: HashMap<String, u32> = HashMap::new();
                for word in words(&text) {
                    *terms.entry(word).or_default() += 1;
                }
                let len = terms.values().sum();
                for term in terms.keys() {
                    *base.document_frequency.entry(term.clone()).or_default() += 1;
                }
                base.passages.push(Passage { source: source.to_string(), text, terms, len });
            }
        }
        let total: u32 = base.passages.iter().map(|p| p.len).sum();
        base.average_len = total as f32 / base.passages.len().max(1) as f32;
        base
    }

    /// How many passages the knowledge base holds.
    pub fn passages(&self) -> usize {
        self.passages.len()
    }

    /// The `k` passages that best match `query`, best first (only passages sharing a word with it).
    pub fn lookup(&self, query: &str, k: usize) -> Vec<(&Passage, f32)> {
        let n = self.passages.len() as f32;
        let query: Vec<String> = words(query).collect();
        let mut scored: Vec<(&Passage, f32)> = self
            .passages
            .iter()
            .map(|p| {
                let score = query
                    .iter()
                    .filter_map(|term| {
                        let tf = *p.terms.get(term)? as f32;
                        let df = *self.document_frequency.get(term)? as f32;
                        let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                        Some(idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * p.len as f32 / self.average_len)))
                    })
                    .sum::<f32>();
                (p, score)
            })
            .filter(|(_, score)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored
    }

    /// What the tool answers the model: the best passages, numbered, with their sources.
    pub fn answer(&self, query: &str) -> String {
        let found = self.lookup(query, LOOKUP_TOP_K);
        if found.is_empty() {
            return format!("no passage of the knowledge documents matches {query:?}");
        }
        found
            .iter()
            .enumerate()
            .map(|(i, (p, _))| format!("[{}] ({}) {}", i + 1, p.source, p.text))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAQ: &str = "Opening hours\n\nThe library is open from 9 am to 6 pm on weekdays and from 10 am to 2 pm on \
        Saturdays. It is closed on Sundays and public holidays.\n\nMembership\n\nMembership costs 500 rupees a \
        year. Students get a 50 percent discount with a valid college ID.\n\nReturns\n\nBooks can be borrowed \
        for 14 days. Late returns cost 5 rupees per day.";

    #[test]
    fn the_passage_that_answers_ranks_first() {
        let base = KnowledgeBase::from_documents([("faq.md", FAQ), ("other.txt", "Parking is free for members.")]);
        assert!(base.passages() >= 2);
        let best = base.lookup("When is the library open on Saturday?", 3);
        assert!(best[0].0.text.contains("10 am to 2 pm"), "{best:?}");
        let best = base.lookup("how much does membership cost for students", 3);
        assert!(best[0].0.text.contains("50 percent"), "{best:?}");
        assert_eq!(base.lookup("parking", 1)[0].0.source, "other.txt");
        assert!(base.lookup("quantum chromodynamics", 3).is_empty());
        assert!(base.answer("zebra").starts_with("no passage"));
        assert!(base.answer("late returns").starts_with("[1] (faq.md)"));
    }

    #[test]
    fn long_paragraphs_are_split_at_sentences_and_hindi_words_stay_whole() {
        let long: String = (0..60).map(|i| format!("Sentence number {i} talks about topic{i}. ")).collect();
        let base = KnowledgeBase::from_documents([("long.txt", long.as_str())]);
        assert!(base.passages() > 2, "{}", base.passages());
        assert!(base.passages.iter().all(|p| p.text.len() <= 2 * PASSAGE_CHARS));
        assert!(base.lookup("topic42", 1)[0].0.text.contains("topic42"));
        let hindi =
            KnowledgeBase::from_documents([("hi.txt", "पुस्तकालय सुबह नौ बजे खुलता है।\n\nसदस्यता शुल्क पाँच सौ रुपये है।")]);
        assert!(hindi.lookup("पुस्तकालय कब खुलता है", 1)[0].0.text.contains("नौ बजे"));
    }
}
