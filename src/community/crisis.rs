//! Crisis language: whether a message reads as someone in danger. The phrases live in
//! `crisis_phrases.txt` (reviewed by people, grouped, several forms and languages); a message
//! and every phrase are brought to one plain form — lower case, accents, apostrophes and
//! punctuation gone, letters repeated for emphasis made single, digits inside words read as the
//! letters they stand for — and one Aho-Corasick pass finds any phrase as whole words.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

const PHRASES: &str = include_str!("crisis_phrases.txt");

static MATCHER: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let phrases: Vec<String> = PHRASES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!(" {} ", plain(l)))
        .collect();
    // Fails only past the automaton's size limits, far above this list; a test builds it.
    #[allow(clippy::expect_used)]
    AhoCorasick::new(phrases).expect("the crisis phrases build a matcher")
});

/// Whether `text` contains crisis language.
pub fn reads_as_crisis(text: &str) -> bool {
    MATCHER.is_match(&format!(" {} ", plain(text)))
}

/// The plain form both messages and phrases are compared in: words of lower-case letters and
/// digits separated by single spaces.
fn plain(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut finish = |word: &mut String| {
        if !word.is_empty() {
            words.push(letters_for_digits(word));
            word.clear();
        }
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = fold(c);
        if matches!(c, '\'' | '’' | '‘' | '`' | '´') {
            continue; // "don't" is "dont"
        }
        let c = match c {
            '@' => 'a',
            '$' => 's',
            c => c,
        };
        if c.is_alphanumeric() {
            // A letter repeated ("sooo", "killll") counts once; phrases are folded the same way.
            if word.ends_with(c) && c.is_alphabetic() {
                continue;
            }
            word.push(c);
        } else {
            finish(&mut word);
        }
    }
    finish(&mut word);
    words.join(" ")
}

/// Digits in a word that also has letters stand for letters ("k1ll", "mys3lf"); numbers
/// alone stay numbers.
fn letters_for_digits(word: &str) -> String {
    if !word.chars().any(char::is_alphabetic) {
        return word.to_string();
    }
    let mapped: String = word
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'i',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            c => c,
        })
        .collect();
    // Mapping may have made a repeated letter ("ki1l" → "kiil"): count it once, as above.
    let mut out = String::with_capacity(mapped.len());
    for c in mapped.chars() {
        if !(out.ends_with(c) && c.is_alphabetic()) {
            out.push(c);
        }
    }
    out
}

/// A Latin letter without its accent.
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crisis_language_is_found_in_its_many_forms() {
        for text in [
            "I want to kill myself",
            "i wanna DIE",
            "I don't want to live anymore",
            "I dont want to be alive",
            "thinking about suicide tonight",
            "k1ll mys3lf",
            "I want to killll myself!!!",
            "Everyone would be better off without me.",
            "I keep cutting myself",
            "I want to end my life",
            "quiero morir",
            "Je veux mourir.",
            "I feel suicidal",
            "I can't go on like this",
        ] {
            assert!(reads_as_crisis(text), "{text:?}");
        }
    }

    #[test]
    fn ordinary_words_are_not_crisis_language() {
        for text in [
            "Thanks for today",
            "That joke killed me, I laughed so much",
            "I skilled myself up in pottery",
            "The deadline is killing my weekend",
            "Ran 10 km, want to dine out after?",
            "my diet is going well",
            "I wish I was there",
            "I nearly killed myself laughing",
            "I can't go on holiday this year",
        ] {
            assert!(!reads_as_crisis(text), "{text:?}");
        }
    }

    #[test]
    fn every_phrase_matches_itself_and_is_plain_already() {
        for line in PHRASES.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            assert!(reads_as_crisis(line), "{line:?} does not match itself");
            assert!(
                line.chars()
                    .all(|c| c.is_ascii_lowercase() || c == ' ' || c.is_ascii_digit()),
                "{line:?}: write phrases in plain lower case"
            );
        }
    }
}
