//! Worker processes, one per core. Processes, not threads: instances copy-on-write their memory
//! image, and each first write to a shared page costs a TLB shootdown across every thread of
//! the process, so two threads in one process ran slower than one while two processes scaled.
//!
//! Wire format on a worker's stdin/stdout: frames of a u32 little-endian length and JSON.
//! First the parent sends a [`WorkerConfig`], then any number of job lists, each answered with
//! its outcomes. A worker that dies is replaced and its jobs retried once; a job list that
//! kills two workers gets `crash` for every case.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::engine::Prepared;
use super::error::SandboxError;
use super::limits::{Isolation, Limits};
use super::outcome::{CaseOutcome, Job, Status};
use super::runner::Runner;

#[derive(Serialize, Deserialize)]
pub struct WorkerConfig {
    pub compiled: PathBuf,
    pub stdlib_dir: PathBuf,
    pub limits: Limits,
}

/// Jobs per request: small enough to balance the load, large enough to amortise the pipe.
/// Shared isolation sends each worker one request, so that it makes one instance.
const JOBS_PER_REQUEST: usize = 4;
/// The largest frame accepted from a worker.
const MAX_FRAME: usize = 1 << 30;

pub fn write_frame(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    out.write_all(&(bytes.len() as u32).to_le_bytes())?;
    out.write_all(&bytes)?;
    out.flush()
}

/// `Ok(None)` at a clean end of stream.
pub fn read_frame<T: for<'de> Deserialize<'de>>(input: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("frame of {len} bytes")));
    }
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(io::Error::other)
}

/// The worker's side: serve job lists from stdin until it closes.
pub fn serve_stdio() -> Result<(), SandboxError> {
    let mut input = BufReader::new(io::stdin().lock());
    let mut output = BufWriter::new(io::stdout().lock());
    let config: WorkerConfig = read_frame(&mut input)
        .map_err(|error| worker_io("reading the worker config", error))?
        .ok_or(SandboxError::NoWorkerConfig)?;
    let runner = Runner::new(&config.compiled, &config.stdlib_dir, config.limits)?;
    while let Some(jobs) =
        read_frame::<Vec<Job>>(&mut input).map_err(|error| worker_io("reading jobs", error))?
    {
        let outcomes = runner.run(&jobs);
        write_frame(&mut output, &outcomes)
            .map_err(|error| worker_io("writing outcomes", error))?;
    }
    Ok(())
}

fn worker_io(step: &'static str, error: io::Error) -> SandboxError {
    SandboxError::WorkerIo { step, error }
}

struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn spawn(command: &[String], config: &WorkerConfig) -> Result<Worker, SandboxError> {
        let (program, args) = command
            .split_first()
            .ok_or(SandboxError::EmptyWorkerCommand)?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| SandboxError::WorkerStart {
                program: program.clone(),
                error,
            })?;
        let stdin = BufWriter::new(child.stdin.take().expect("piped stdin"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut worker = Worker {
            child,
            stdin,
            stdout,
        };
        write_frame(&mut worker.stdin, config)
            .map_err(|error| worker_io("configuring a sandbox worker", error))?;
        Ok(worker)
    }

    fn run(&mut self, jobs: &[Job]) -> io::Result<Vec<Vec<CaseOutcome>>> {
        write_frame(&mut self.stdin, &jobs)?;
        let outcomes: Vec<Vec<CaseOutcome>> = read_frame(&mut self.stdout)?
            .ok_or_else(|| io::Error::other("the worker closed its output"))?;
        let shape_ok = outcomes.len() == jobs.len()
            && outcomes
                .iter()
                .zip(jobs)
                .all(|(o, j)| o.len() == j.inputs.len());
        if !shape_ok {
            return Err(io::Error::other("the worker answered for other jobs"));
        }
        Ok(outcomes)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Pool {
    command: Vec<String>,
    config: WorkerConfig,
    workers: Vec<Mutex<Option<Worker>>>,
}

impl Pool {
    /// `command` starts a worker process that calls [`serve_stdio`].
    pub fn new(
        command: Vec<String>,
        workers: usize,
        prepared: &Prepared,
        limits: Limits,
    ) -> Result<Pool, SandboxError> {
        limits.validate()?;
        let config = WorkerConfig {
            compiled: prepared.compiled.clone(),
            stdlib_dir: prepared.stdlib_dir.clone(),
            limits,
        };
        let workers = (0..workers.max(1)).map(|_| Mutex::new(None)).collect();
        Ok(Pool {
            command,
            config,
            workers,
        })
    }

    pub fn size(&self) -> usize {
        self.workers.len()
    }

    /// Every case of every job, spread over the workers; blocks until all are done.
    pub fn run(&self, jobs: &[Job]) -> Vec<Vec<CaseOutcome>> {
        let per_request = match self.config.limits.isolation {
            Isolation::Shared => jobs.len().div_ceil(self.workers.len()).max(1),
            _ => JOBS_PER_REQUEST,
        };
        let chunks: Vec<&[Job]> = jobs.chunks(per_request).collect();
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Vec<Vec<CaseOutcome>>>>> =
            chunks.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for slot in &self.workers {
                scope.spawn(|| {
                    let mut worker = slot.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(i) else { break };
                        let outcome = self.run_chunk(&mut worker, chunk);
                        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
                    }
                });
            }
        });
        results
            .into_iter()
            .flat_map(|r| {
                r.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .unwrap_or_default()
            })
            .collect()
    }

    fn run_chunk(&self, worker: &mut Option<Worker>, chunk: &[Job]) -> Vec<Vec<CaseOutcome>> {
        let mut last_error = String::new();
        for _attempt in 0..2 {
            if worker.is_none() {
                match Worker::spawn(&self.command, &self.config) {
                    Ok(w) => *worker = Some(w),
                    Err(e) => {
                        last_error = e.to_string();
                        continue;
                    }
                }
            }
            match worker.as_mut().expect("spawned above").run(chunk) {
                Ok(outcomes) => return outcomes,
                Err(e) => {
                    last_error = format!("the sandbox worker died: {e}");
                    *worker = None;
                }
            }
        }
        chunk
            .iter()
            .map(|job| {
                vec![CaseOutcome::stopped(Status::Crash, last_error.clone()); job.inputs.len()]
            })
            .collect()
    }
}
