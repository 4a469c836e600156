//! The bulky part of every function's dedup record, its LSH band keys, its MinHash sketch
//! (592 of its 625 fixed bytes with the defaults) and its shingle set (4 bytes a shingle),
//! kept in unnamed temporary files instead of RAM, so the Deduper's memory stays a few dozen
//! bytes per function at any corpus size.
//!
//! Band keys are written block by block, each block band-major, so `finish` reads one band's
//! column at a time; sketches are fixed-size slots and shingle sets sorted runs, read back one
//! pair at a time to verify a candidate pair. The files are removed as soon as they are created: nothing is left behind,
//! even by a killed process, and the page cache serves the reads.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::DedupError;

/// A file in `dir` that no other process can open: created, then unlinked at once.
fn unnamed_file(dir: &Path, tag: &str) -> io::Result<File> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".case2code-dedup-{}-{n}-{tag}", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Band keys and sketches of every function added, on disk.
pub struct Records {
    bands: File,
    /// Per block added: where its band-major keys start in `bands`, and its function count.
    blocks: Vec<(u64, usize)>,
    band_count: usize,
    sketches: File,
    sketch_width: usize,
    shingles: File,
    /// Where each function's shingles start in `shingles` (in shingles), and where the last
    /// ends: the one part of the records held in RAM.
    shingle_starts: Vec<u64>,
    len: usize,
}

impl Records {
    /// Empty records in the temporary directory (`TMPDIR`, else /tmp).
    pub fn new(band_count: usize, sketch_width: usize) -> Result<Self, DedupError> {
        let dir = std::env::temp_dir();
        let open = |tag| {
            unnamed_file(&dir, tag).map_err(|error| DedupError::RecordsCreate {
                dir: dir.clone(),
                error,
            })
        };
        Ok(Records {
            bands: open("bands")?,
            blocks: Vec::new(),
            band_count,
            sketches: open("sketches")?,
            sketch_width,
            shingles: open("shingles")?,
            shingle_starts: vec![0],
            len: 0,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a block: `band_major[b * n + i]` is band `b`'s key of the block's function `i`,
    /// `sketches` the block's sketches one after another.
    pub fn append(&mut self, band_major: &[u64], sketches: &[u8]) -> Result<(), DedupError> {
        let n = sketches.len() / self.sketch_width;
        debug_assert_eq!(band_major.len(), n * self.band_count);
        let offset = self.blocks.last().map_or(0, |&(start, len)| {
            start + (len * self.band_count * 8) as u64
        });
        let bytes: Vec<u8> = band_major
            .iter()
            .flat_map(|key| key.to_le_bytes())
            .collect();
        let written = self.bands.write_all_at(&bytes, offset).and_then(|()| {
            self.sketches
                .write_all_at(sketches, (self.len * self.sketch_width) as u64)
        });
        written.map_err(|error| DedupError::RecordsWrite {
            dir: std::env::temp_dir(),
            error,
        })?;
        self.blocks.push((offset, n));
        self.len += n;
        Ok(())
    }

    /// Appends shingle sets, one per function (`lengths[i]` of `shingles` each, in order);
    /// functions must get their shingles before their block is [`append`](Self::append)ed.
    pub fn append_shingles(&mut self, lengths: &[u32], shingles: &[u32]) -> Result<(), DedupError> {
        let end = *self.shingle_starts.last().expect("starts at 0");
        let bytes: Vec<u8> = shingles.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.shingles
            .write_all_at(&bytes, end * 4)
            .map_err(|error| DedupError::RecordsWrite {
                dir: std::env::temp_dir(),
                error,
            })?;
        let mut at = end;
        self.shingle_starts.extend(lengths.iter().map(|&n| {
            at += u64::from(n);
            at
        }));
        Ok(())
    }

    /// Drops shingle sets past the first `functions` (after a failed append).
    pub fn truncate_shingles(&mut self, functions: usize) {
        self.shingle_starts.truncate(functions + 1);
    }

    /// Function `i`'s shingle set, sorted, into `out` (`bytes` is a reused buffer).
    pub fn shingles(
        &self,
        i: usize,
        bytes: &mut Vec<u8>,
        out: &mut Vec<u32>,
    ) -> Result<(), DedupError> {
        let (start, end) = (self.shingle_starts[i], self.shingle_starts[i + 1]);
        bytes.resize(((end - start) * 4) as usize, 0);
        self.shingles
            .read_exact_at(bytes, start * 4)
            .map_err(DedupError::RecordsRead)?;
        out.clear();
        out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes"))),
        );
        Ok(())
    }

    /// Band `band`'s key of every function, in order, into `out`.
    pub fn band(&self, band: usize, out: &mut Vec<u64>) -> Result<(), DedupError> {
        out.clear();
        out.reserve(self.len);
        let mut bytes = Vec::new();
        for &(start, n) in &self.blocks {
            bytes.resize(n * 8, 0);
            let at = start + (band * n * 8) as u64;
            self.bands
                .read_exact_at(&mut bytes, at)
                .map_err(DedupError::RecordsRead)?;
            out.extend(
                bytes
                    .chunks_exact(8)
                    .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
            );
        }
        Ok(())
    }

    /// Function `i`'s sketch into `out` (`sketch_width` bytes).
    pub fn sketch(&self, i: usize, out: &mut [u8]) -> Result<(), DedupError> {
        self.sketches
            .read_exact_at(out, (i * self.sketch_width) as u64)
            .map_err(DedupError::RecordsRead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_read_back_as_columns_and_slots() {
        let mut records = Records::new(2, 3).unwrap();
        // Block of two functions: band 0 keys 1, 2; band 1 keys 10, 20.
        records
            .append(&[1, 2, 10, 20], &[1, 1, 1, 2, 2, 2])
            .unwrap();
        records.append(&[3, 30], &[3, 3, 3]).unwrap();
        let mut column = Vec::new();
        records.band(1, &mut column).unwrap();
        assert_eq!(column, vec![10, 20, 30]);
        records.band(0, &mut column).unwrap();
        assert_eq!(column, vec![1, 2, 3]);
        let mut sketch = [0u8; 3];
        records.sketch(2, &mut sketch).unwrap();
        assert_eq!(sketch, [3, 3, 3]);
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn shingle_sets_read_back_per_function() {
        let mut records = Records::new(1, 1).unwrap();
        records.append_shingles(&[2, 0], &[5, 9]).unwrap();
        records.append_shingles(&[3], &[1, 2, 3]).unwrap();
        let (mut bytes, mut out) = (Vec::new(), Vec::new());
        records.shingles(0, &mut bytes, &mut out).unwrap();
        assert_eq!(out, [5, 9]);
        records.shingles(1, &mut bytes, &mut out).unwrap();
        assert!(out.is_empty());
        records.shingles(2, &mut bytes, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3]);
    }
}
