//! Runs jobs in fresh interpreter instances on the calling thread: one instance per function
//! (or per case, or shared), all of an instance's cases in one `turn`, and a fresh instance to
//! go on after any case that kills its instance.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use wasmtime::{Engine, Instance, InstancePre, Linker, ResourceLimiter, Store, Trap};

use super::door::{self, Guest, Session, Task};
use super::engine::{self, TICK};
use super::error::SandboxError;
use super::limits::{Isolation, Limits};
use super::outcome::{CaseOutcome, Job, Status};
use super::virtual_os::{self, guest_os};

/// The guest program every instance runs (see driver.py).
pub const DRIVER: &str = include_str!("driver.py");

/// What each instance's `turn` runs: the driver, defined in the primed interpreter (see
/// prime.rs), so that a fresh instance neither compiles nor unmarshals it.
const RUN_DRIVER: &str = "import _c2c_driver\n_c2c_driver.serve()\n";

/// Raw WASI stdout/stderr kept per instance (the driver captures `print` itself; this only
/// holds what bypasses it, and the driver's own traceback if it ever fails).
const PIPE_BYTES: usize = 64 << 10;

/// Linear-memory cap that remembers whether it was hit, to tell `memory` from other traps.
pub struct MemoryCap {
    max: usize,
    pub hit: bool,
}

impl MemoryCap {
    pub fn new(max: usize) -> MemoryCap {
        MemoryCap { max, hit: false }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 17)
    }
}

pub struct Runner {
    pre: InstancePre<Guest>,
    stdlib_dir: PathBuf,
    limits: Limits,
}

/// How an instance ended.
enum End {
    /// The driver ran out of work.
    Finished,
    /// The instance died; the outcome for the case it was in.
    Stopped(CaseOutcome),
}

fn instantiate(step: &'static str, error: wasmtime::Error) -> SandboxError {
    SandboxError::Instantiate {
        step,
        error: error.to_string(),
    }
}

impl Runner {
    /// `compiled` is what [`engine::prepare`] returned; `stdlib_dir` holds `python315.zip`.
    pub fn new(compiled: &Path, stdlib_dir: &Path, limits: Limits) -> Result<Runner, SandboxError> {
        limits.validate()?;
        let engine = engine::engine().map_err(|e| SandboxError::Engine(e.to_string()))?;
        let module = engine::load(compiled)?;
        let linker = guest_linker(&engine)?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| instantiate("preparing instances", e))?;
        Ok(Runner {
            pre,
            stdlib_dir: stdlib_dir.to_path_buf(),
            limits,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Every case of every job, in order, under the configured isolation; with
    /// `check_stability`, cases whose result changes in a perturbed world become `unstable`.
    pub fn run(&self, jobs: &[Job]) -> Vec<Vec<CaseOutcome>> {
        let probe = self.limits.check_stability;
        let (results, probes) = self.run_once(jobs, probe);
        let mut results = complete(results);
        if probe {
            self.judge_stability(jobs, &mut results, probes);
        }
        results
    }

    /// Marks the cases whose probe changed their result. A case left unprobed (its instance
    /// died before the probe, or it ran in an earlier instance of the same function) is probed
    /// once more in a fresh instance of its own.
    fn judge_stability(&self, jobs: &[Job], results: &mut [Vec<CaseOutcome>], probes: Cases) {
        let mut unprobed: Vec<(usize, Vec<usize>)> = Vec::new();
        for (job, probed) in probes.into_iter().enumerate() {
            let mut missing = Vec::new();
            for (case, probe) in probed.into_iter().enumerate() {
                if !matches!(results[job][case].status, Status::Ok | Status::Error) {
                    continue;
                }
                match probe {
                    Some(probe) => mark(&mut results[job][case], probe),
                    None => missing.push(case),
                }
            }
            if !missing.is_empty() {
                unprobed.push((job, missing));
            }
        }
        if unprobed.is_empty() {
            return;
        }
        let retry: Vec<Job> = unprobed
            .iter()
            .map(|(job, cases)| Job {
                source: jobs[*job].source.clone(),
                name: jobs[*job].name.clone(),
                inputs: cases
                    .iter()
                    .map(|&c| jobs[*job].inputs[c].clone())
                    .collect(),
            })
            .collect();
        let (_, probes) = self.run_once(&retry, true);
        for ((job, cases), probed) in unprobed.into_iter().zip(probes) {
            for (case, probe) in cases.into_iter().zip(probed) {
                if let Some(probe) = probe {
                    mark(&mut results[job][case], probe);
                }
            }
        }
    }

    /// Runs every job under the configured isolation; returns each case's outcome and, when
    /// `probe`, each case's stability probe (the driver reruns a job's cases perturbed in the
    /// same instance, right after them).
    fn run_once(&self, jobs: &[Job], probe: bool) -> (Cases, Cases) {
        let empty = || -> Cases { jobs.iter().map(|j| vec![None; j.inputs.len()]).collect() };
        let (mut results, mut probes) = (empty(), empty());
        let whole = |job: usize| (job, 0, jobs[job].inputs.len());
        let groups: Vec<Vec<(usize, usize, usize)>> = match self.limits.isolation {
            Isolation::Function => (0..jobs.len()).map(|j| vec![whole(j)]).collect(),
            Isolation::Shared => vec![(0..jobs.len()).map(whole).collect()],
            Isolation::Case => (0..jobs.len())
                .flat_map(|j| (0..jobs[j].inputs.len()).map(move |c| vec![(j, c, c + 1)]))
                .collect(),
        };
        for group in groups {
            self.run_group(jobs, group, probe, &mut results, &mut probes);
        }
        (results, probes)
    }

    /// Runs (job, first, end) ranges in one instance, starting a fresh one after each death.
    fn run_group(
        &self,
        jobs: &[Job],
        group: Vec<(usize, usize, usize)>,
        probe: bool,
        results: &mut Cases,
        probes: &mut Cases,
    ) {
        let mut pending: VecDeque<(usize, usize, usize)> = group
            .into_iter()
            .filter(|&(_, first, end)| first < end)
            .collect();
        while !pending.is_empty() {
            let tasks = pending
                .iter()
                .map(|&(job, first, end)| self.task(jobs, job, first, end, probe))
                .collect();
            let (end, session) = self.run_instance(tasks);
            for (job, case, outcome) in session.outcomes {
                results[job][case] = Some(outcome);
            }
            for (job, case, outcome) in session.probes {
                probes[job][case] = Some(outcome);
            }
            let End::Stopped(stop) = end else { break };
            // Drop the ranges the instance finished; resume the one it died in after the case.
            let Some(position) = session.position else {
                // Died before asking for work: every pending case gets the reason.
                for (job, first, end) in pending.drain(..) {
                    results[job][first..end].fill(Some(stop.clone()));
                }
                break;
            };
            while pending
                .front()
                .is_some_and(|&(job, _, _)| job != position.job)
            {
                pending.pop_front();
            }
            let Some((job, _, end)) = pending.pop_front() else {
                break;
            };
            if position.probing() {
                // Died probing: that is the case's probe; the job's cases all ran.
                if !position.reported && position.case >= 0 {
                    probes[job][position.case as usize] = Some(stop);
                }
            } else if position.case < 0 {
                // Died defining the function: no case of it can run.
                results[job][position.first..end].fill(Some(stop.clone()));
            } else {
                let case = position.case as usize;
                if !position.reported {
                    results[job][case] = Some(stop);
                }
                if case + 1 < end {
                    pending.push_front((job, case + 1, end));
                }
            }
        }
    }

    fn task(&self, jobs: &[Job], job: usize, first: usize, end: usize, probe: bool) -> Task {
        let j = &jobs[job];
        // The driver's job encoding (see driver.py): `<chars>:<text>` fields.
        let mut frame = String::new();
        let numbers = [
            first as u64,
            self.limits.recursion_limit as u64,
            self.limits.stdout_chars,
            self.limits.repr_chars,
            probe as u64,
            self.limits.coverage as u64,
        ];
        let numbers: Vec<String> = numbers.iter().map(u64::to_string).collect();
        let fields = [j.source.as_str(), j.name.as_str()]
            .into_iter()
            .chain(numbers.iter().map(String::as_str))
            .chain(j.inputs[..end].iter().map(String::as_str));
        for field in fields {
            frame.push_str(&field.chars().count().to_string());
            frame.push(':');
            frame.push_str(field);
        }
        Task {
            job,
            first,
            end,
            probe,
            frame: frame.into_bytes(),
        }
    }

    /// One instance running the driver over `tasks` in a single `turn`; returns how it ended
    /// and the door session (the outcomes it reported).
    fn run_instance(&self, tasks: VecDeque<Task>) -> (End, Session) {
        let ticks = self
            .limits
            .wall_ms_per_case
            .div_ceil(TICK.as_millis() as u64)
            + 1;
        let session = Session::new(
            tasks,
            (self.limits.fuel_per_case, self.limits.fuel_per_definition),
            ticks,
        );
        let os = match guest_os(&self.stdlib_dir, PIPE_BYTES) {
            Ok(os) => os,
            Err(e) => {
                return (
                    End::Stopped(crash(format!("setting up WASI: {e}"))),
                    session,
                );
            }
        };
        let cap = MemoryCap::new(self.limits.memory_bytes as usize);
        let mut store = Store::new(self.pre.module().engine(), Guest { os, cap, session });
        store.limiter(|g| &mut g.cap);
        let end = match self.drive(&mut store, ticks) {
            Ok(0) => End::Finished,
            Ok(code) => {
                let stderr =
                    String::from_utf8_lossy(&store.data().os.stderr.contents()).into_owned();
                End::Stopped(crash(format!(
                    "the driver exited with status {code}: {}",
                    tail(&stderr)
                )))
            }
            Err(e) => End::Stopped(classify(&e, store.data().cap.hit)),
        };
        let session = std::mem::replace(
            &mut store.data_mut().session,
            Session::new(VecDeque::new(), (0, 0), 0),
        );
        (end, session)
    }

    fn drive(&self, store: &mut Store<Guest>, ticks: u64) -> wasmtime::Result<i32> {
        store.set_fuel(self.limits.fuel_per_case)?;
        store.set_epoch_deadline(ticks);
        let instance = self.pre.instantiate(&mut *store)?;
        run_turn(store, &instance, RUN_DRIVER)
    }
}

/// Runs `code` in the instance's `__main__` as one `turn` of the reactor (the code is copied
/// into guest memory the guest allocates); returns the turn's exit status.
pub fn run_turn(
    store: &mut Store<Guest>,
    instance: &Instance,
    code: &str,
) -> wasmtime::Result<i32> {
    let alloc = instance.get_typed_func::<i32, i32>(&mut *store, "host_alloc")?;
    let turn = instance.get_typed_func::<(i32, i32), i32>(&mut *store, "turn")?;
    let memory = instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| wasmtime::format_err!("the guest exports no memory"))?;
    let at = alloc.call(&mut *store, code.len() as i32)?;
    memory.write(&mut *store, at as u32 as usize, code.as_bytes())?;
    turn.call(&mut *store, (at, code.len() as i32))
}

/// What an instance of the interpreter imports: WASI preview 1 over the virtual OS, a
/// `poll_oneoff` that never waits, and the door.
pub fn guest_linker(engine: &Engine) -> Result<Linker<Guest>, SandboxError> {
    let mut linker: Linker<Guest> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |g: &mut Guest| &mut g.os.wasi)
        .map_err(|e| instantiate("linking WASI", e))?;
    linker.allow_shadowing(true);
    linker
        .func_wrap(
            "wasi_snapshot_preview1",
            "poll_oneoff",
            |mut caller: wasmtime::Caller<'_, Guest>,
             subs: i32,
             events: i32,
             n: i32,
             count: i32| {
                let memory = caller
                    .get_export("memory")
                    .and_then(|e| e.into_memory())
                    .ok_or_else(|| wasmtime::format_err!("no memory"))?;
                let (data, guest) = memory.data_and_store_mut(&mut caller);
                Ok(virtual_os::poll_now(
                    data,
                    &guest.os.time,
                    guest.os.world.world(),
                    subs as u32,
                    events as u32,
                    n as u32,
                    count as u32,
                ))
            },
        )
        .map_err(|e| instantiate("linking poll_oneoff", e))?;
    linker
        .func_wrap("host", "call", door::call)
        .map_err(|e| instantiate("linking the door", e))?;
    Ok(linker)
}

fn crash(reason: String) -> CaseOutcome {
    CaseOutcome::stopped(Status::Crash, reason)
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(2000);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].trim()
}

/// What a dead instance's error means for the case it was running.
fn classify(error: &wasmtime::Error, memory_hit: bool) -> CaseOutcome {
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return crash(format!("the process exited with status {}", exit.0));
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            CaseOutcome::stopped(Status::Timeout, "instruction budget exhausted")
        }
        Some(Trap::Interrupt) => {
            CaseOutcome::stopped(Status::Timeout, "wall-clock deadline passed")
        }
        _ if memory_hit => CaseOutcome::stopped(Status::Memory, "memory cap reached"),
        Some(Trap::StackOverflow) => crash("wasm stack overflow".into()),
        Some(trap) => crash(format!("wasm trap: {trap}")),
        None => crash(error.root_cause().to_string()),
    }
}

/// Each job's cases, filled in as instances report them.
type Cases = Vec<Vec<Option<CaseOutcome>>>;

fn complete(results: Cases) -> Vec<Vec<CaseOutcome>> {
    results
        .into_iter()
        .map(|cases| {
            cases
                .into_iter()
                .map(|c| {
                    c.unwrap_or_else(|| {
                        CaseOutcome::stopped(Status::Crash, "the driver never ran this case")
                    })
                })
                .collect()
        })
        .collect()
}

/// Turns `first` into `unstable` when its probe differs, a probe stopped by a limit included:
/// with four times the budget, a case that no longer finishes behaves differently.
fn mark(first: &mut CaseOutcome, probe: CaseOutcome) {
    if !first.same_result(&probe) {
        let original = std::mem::replace(first, CaseOutcome::stopped(Status::Crash, ""));
        *first = agree(original, probe);
    }
}

/// Two runs of one case: the first, or `unstable` when their results differ.
fn agree(first: CaseOutcome, second: CaseOutcome) -> CaseOutcome {
    if first.same_result(&second) {
        return first;
    }
    let clip = |text: &str| {
        let clipped: String = text.chars().take(200).collect();
        let more = if clipped.len() < text.len() {
            "…"
        } else {
            ""
        };
        format!("{clipped}{more}")
    };
    let show = |o: &CaseOutcome| {
        let text = o.value_repr.as_deref().or(o.error.as_deref()).unwrap_or("");
        format!("{} {}", o.status.as_str(), clip(text))
    };
    let (a, b) = (show(&first), show(&second));
    let reason = if a == b {
        format!(
            "first run: {a}, printed {:?}; perturbed run printed {:?}",
            clip(&first.stdout),
            clip(&second.stdout)
        )
    } else {
        format!("first run: {a}; perturbed run: {b}")
    };
    let mut out = CaseOutcome::stopped(Status::Unstable, reason);
    // The first run's value stays visible for inspection; the status keeps it out of samples.
    out.value_repr = first.value_repr;
    out.stdout = first.stdout;
    out.instructions = first.instructions;
    out.wall_us = first.wall_us;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(repr: &str, wall_us: u64) -> CaseOutcome {
        CaseOutcome {
            status: Status::Ok,
            value_repr: Some(repr.into()),
            value_json: None,
            error_type: None,
            error: None,
            stdout: String::new(),
            instructions: 10,
            wall_us,
            coverage: None,
        }
    }

    #[test]
    fn runs_that_differ_only_in_timing_agree() {
        assert_eq!(agree(ok("1", 5), ok("1", 9)).status, Status::Ok);
    }

    #[test]
    fn runs_with_different_values_are_unstable() {
        let out = agree(ok("1", 5), ok("2", 5));
        assert_eq!(out.status, Status::Unstable);
        assert_eq!(
            out.error.as_deref(),
            Some("first run: ok 1; perturbed run: ok 2")
        );
    }

    #[test]
    fn limits_are_validated() {
        assert!(Limits::default().validate().is_ok());
        let tiny = Limits {
            memory_bytes: 1 << 20,
            ..Limits::default()
        };
        assert!(tiny.validate().unwrap_err().to_string().contains("64 MiB"));
    }
}
