//! Owns the text of every file ecsops read, so a diagnostic can point at `file:line:column` and
//! quote the offending line long after parsing is done. Files are addressed by a small [`FileId`].

use std::ops::Range;
use std::path::{Path, PathBuf};

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(usize);

/// A byte range inside one source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Site {
    pub file: FileId,
    pub span: Range<usize>,
}

/// One loaded file: the path as shown to the user and its full text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the workspace root where possible (what users see in messages).
    pub display: PathBuf,
    pub text: String,
    /// Byte offset of the start of each line, for offset → line:column.
    line_starts: Vec<usize>,
    /// Byte ranges that may hold secret values: never shown.
    sensitive: Vec<Range<usize>>,
}

impl SourceFile {
    fn new(display: PathBuf, text: String) -> Self {
        let line_starts =
            std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Self { display, text, line_starts, sensitive: Vec::new() }
    }

    /// The text with every sensitive range, and `extra`, replaced by `*` byte for byte but for
    /// line breaks (so spans and line:column still line up, a multi-line secret's included):
    /// what snippets may show.
    pub fn masked(&self, extra: &[Range<usize>]) -> String {
        mask(&self.text, self.sensitive.iter().chain(extra))
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end clamp.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }
}

/// `text` with `ranges` replaced by `*` byte for byte, line breaks kept.
pub fn mask<'r>(text: &str, ranges: impl IntoIterator<Item = &'r Range<usize>>) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for r in ranges {
        let end = r.end.min(bytes.len());
        for b in &mut bytes[r.start.min(end)..end] {
            if !matches!(*b, b'\n' | b'\r') {
                *b = b'*';
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every file read during one command.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, display: impl Into<PathBuf>, text: String) -> FileId {
        let display = display.into();
        if let Some(i) = self.files.iter().position(|f| f.display == display) {
            return FileId(i);
        }
        self.files.push(SourceFile::new(display, text));
        FileId(self.files.len() - 1)
    }

    /// Marks ranges of a file that may hold secrets.
    pub fn mark_sensitive(&mut self, id: FileId, ranges: Vec<Range<usize>>) {
        self.files[id.0].sensitive = ranges;
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    pub fn find(&self, display: &Path) -> Option<FileId> {
        self.files.iter().position(|f| f.display == display).map(FileId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_characters() {
        let mut s = Sources::default();
        let id = s.add("a.toml", "ab\né = 1\n".to_owned());
        let f = s.get(id);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        // `=` sits after the two-byte `é` and a space: third character of line 2.
        assert_eq!(f.line_col(6), (2, 3));
        assert_eq!(f.line_col(999), (3, 1));
    }

    /// A masked multi-line secret keeps its line breaks, so the lines after it keep their
    /// numbers in snippets.
    #[test]
    fn masking_keeps_line_breaks() {
        let text = "k = \"\"\"a\r\nbc\"\"\"\nx = 1\n";
        assert_eq!(mask(text, std::slice::from_ref(&(7..12))), "k = \"\"\"*\r\n**\"\"\"\nx = 1\n");
    }
}
