//! The host half of the door (`host.call`): the channel the guest driver asks for jobs on and
//! reports cases through. It is strict about order, so code under test that calls the door
//! itself ends its own instance instead of slipping in results.

use std::collections::VecDeque;
use std::time::Instant;

use serde::Deserialize;
use wasmtime::{AsContext, AsContextMut, Caller};

use super::outcome::{CaseOutcome, Coverage, Status};
use super::virtual_os::GuestOs;

/// A contiguous run of one job's cases for the driver: `frame` is the JSON it receives.
pub struct Task {
    pub job: usize,
    pub first: usize,
    pub end: usize,
    /// Whether the driver probes the cases for stability after running them.
    pub probe: bool,
    pub frame: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Frame {
    Next,
    /// All cases ran; the driver asks which to run again, perturbed (answered as `3,0,2`).
    Probe,
    Begin {
        case: i64,
    },
    Done {
        case: i64,
        status: Status,
        repr: Option<String>,
        json: Option<String>,
        error_type: Option<String>,
        error: Option<String>,
        stdout: String,
        #[serde(default)]
        coverage: Option<Coverage>,
    },
}

/// Where the driver is in its task. `case` is -2 before the define step, -1 during it.
#[derive(Clone, Debug)]
pub struct Position {
    pub job: usize,
    pub first: usize,
    pub end: usize,
    pub case: i64,
    pub reported: bool,
    pub probe_wanted: bool,
    /// Once the probe began: its case order and how many of those cases have begun.
    pub probe: Option<(Vec<usize>, usize)>,
}

impl Position {
    fn cases_done(&self) -> bool {
        self.reported
            && (self.case + 1 == self.end as i64 || (self.case == -1 && self.first == self.end))
    }

    fn finished(&self) -> bool {
        match &self.probe {
            None => !self.probe_wanted && self.cases_done(),
            Some((order, begun)) => self.reported && *begun == order.len(),
        }
    }

    pub fn probing(&self) -> bool {
        self.probe.is_some()
    }

    fn next_case(&self) -> i64 {
        match self.case {
            -2 => -1,
            -1 => self.first as i64,
            case => case + 1,
        }
    }
}

pub struct Session {
    pub tasks: VecDeque<Task>,
    pub position: Option<Position>,
    /// (job, case, outcome) in the order the guest reported them.
    pub outcomes: Vec<(usize, usize, CaseOutcome)>,
    /// The same for the stability probe's reruns.
    pub probes: Vec<(usize, usize, CaseOutcome)>,
    /// Instructions per case, and for defining the function (its imports can be heavy).
    pub fuel: u64,
    pub define_fuel: u64,
    pub deadline_ticks: u64,
    case_started: Instant,
}

impl Session {
    pub fn new(tasks: VecDeque<Task>, fuel: (u64, u64), deadline_ticks: u64) -> Self {
        let (fuel, define_fuel) = fuel;
        Session {
            tasks,
            position: None,
            outcomes: Vec::new(),
            probes: Vec::new(),
            fuel,
            define_fuel,
            deadline_ticks,
            case_started: Instant::now(),
        }
    }
}

/// Store data of one instance.
pub struct Guest {
    pub os: GuestOs,
    pub cap: super::runner::MemoryCap,
    pub session: Session,
}

pub const HOST_FAULT: i32 = -2;

/// Probed cases get this many times the per-case instruction and wall-clock budgets.
pub const PROBE_BUDGET_SCALE: u64 = 4;

/// The order the probe reruns cases in: reversed, so every case has another predecessor, and
/// with an odd count the middle one trades places with its neighbour, so none keeps its place.
pub fn probe_order(mut cases: Vec<usize>) -> Vec<usize> {
    cases.reverse();
    if cases.len() % 2 == 1 && cases.len() >= 3 {
        let middle = cases.len() / 2;
        cases.swap(middle, middle + 1);
    }
    cases
}

/// `host.call(ptr, len, out_ptr_ptr, out_len_ptr) -> 0 | -2`.
pub fn call(
    mut caller: Caller<'_, Guest>,
    ptr: i32,
    len: i32,
    out_ptr_ptr: i32,
    out_len_ptr: i32,
) -> wasmtime::Result<i32> {
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return Ok(HOST_FAULT);
    };
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    let frame: Frame = {
        let data = memory.data(caller.as_context());
        let Some(bytes) = data.get(ptr..ptr.saturating_add(len)) else {
            return Ok(HOST_FAULT);
        };
        match serde_json::from_slice(bytes) {
            Ok(frame) => frame,
            Err(_) => return Ok(HOST_FAULT),
        }
    };
    let fuel_left = caller.get_fuel()?;
    let response = answer(&mut caller.data_mut().session, frame, fuel_left)?;
    let session = &caller.data().session;
    let defining = session.position.as_ref().is_some_and(|p| p.case == -1);
    let probing = session.position.as_ref().is_some_and(Position::probing);
    let (fuel, ticks) = if defining {
        (session.define_fuel, session.deadline_ticks)
    } else if probing {
        // Probed code is slower (sets are rebuilt, `hash` is wrapped): it gets more room.
        (
            session.fuel.saturating_mul(PROBE_BUDGET_SCALE),
            session.deadline_ticks.saturating_mul(PROBE_BUDGET_SCALE),
        )
    } else {
        (session.fuel, session.deadline_ticks)
    };
    caller.data().os.world.set_perturbed(probing);
    caller.set_fuel(fuel)?;
    caller.as_context_mut().set_epoch_deadline(ticks);

    let (out_ptr_ptr, out_len_ptr) = (out_ptr_ptr as u32 as usize, out_len_ptr as u32 as usize);
    let mut at = 0usize;
    if !response.is_empty() {
        let alloc = caller
            .get_export("host_alloc")
            .and_then(|e| e.into_func())
            .ok_or_else(|| wasmtime::format_err!("the guest exports no host_alloc"))?
            .typed::<i32, i32>(caller.as_context())?;
        at = alloc.call(&mut caller, response.len() as i32)? as u32 as usize;
        if at == 0 {
            return Ok(HOST_FAULT);
        }
    }
    let data = memory.data_mut(caller.as_context_mut());
    let fits = |start: usize, n: usize| start.checked_add(n).is_some_and(|end| end <= data.len());
    if !fits(at, response.len()) || !fits(out_ptr_ptr, 4) || !fits(out_len_ptr, 4) {
        return Ok(HOST_FAULT);
    }
    data[at..at + response.len()].copy_from_slice(&response);
    data[out_ptr_ptr..out_ptr_ptr + 4].copy_from_slice(&(at as u32).to_le_bytes());
    data[out_len_ptr..out_len_ptr + 4].copy_from_slice(&(response.len() as u32).to_le_bytes());
    Ok(0)
}

fn violation(what: &str) -> wasmtime::Error {
    wasmtime::format_err!("door protocol violation: {what}")
}

fn answer(session: &mut Session, frame: Frame, fuel_left: u64) -> wasmtime::Result<Vec<u8>> {
    match frame {
        Frame::Next => {
            if session.position.as_ref().is_some_and(|p| !p.finished()) {
                return Err(violation("asked for a job before finishing the last one"));
            }
            let Some(task) = session.tasks.pop_front() else {
                session.position = None;
                return Ok(Vec::new());
            };
            session.position = Some(Position {
                job: task.job,
                first: task.first,
                end: task.end,
                case: -2,
                reported: true,
                probe_wanted: task.probe,
                probe: None,
            });
            Ok(task.frame)
        }
        Frame::Probe => {
            let Some(p) = session.position.as_mut() else {
                return Err(violation("asked for a probe with no job"));
            };
            if !p.probe_wanted || p.probing() || !p.cases_done() {
                return Err(violation("asked for a probe out of order"));
            }
            let job = p.job;
            let ran: Vec<usize> = session
                .outcomes
                .iter()
                .filter(|(j, _, o)| *j == job && matches!(o.status, Status::Ok | Status::Error))
                .map(|(_, case, _)| *case)
                .collect();
            let order = probe_order(ran);
            let answer: Vec<String> = order.iter().map(usize::to_string).collect();
            p.probe = Some((order, 0));
            Ok(answer.join(",").into_bytes())
        }
        Frame::Begin { case } => {
            let Some(p) = session.position.as_mut() else {
                return Err(violation("began a case with no job"));
            };
            if let Some((order, begun)) = p.probe.as_mut() {
                if !p.reported || order.get(*begun).is_none_or(|&c| c as i64 != case) {
                    return Err(violation("began a probed case out of order"));
                }
                *begun += 1;
                p.case = case;
                p.reported = false;
                session.case_started = Instant::now();
                return Ok(Vec::new());
            }
            if !p.reported || case != p.next_case() || case >= p.end as i64 {
                return Err(violation("began a case out of order"));
            }
            p.case = case;
            // The define step has no report of its own.
            p.reported = case == -1;
            session.case_started = Instant::now();
            Ok(Vec::new())
        }
        Frame::Done {
            case,
            status,
            repr,
            json,
            error_type,
            error,
            stdout,
            coverage,
        } => {
            let Some(p) = session.position.as_mut() else {
                return Err(violation("reported a case with no job"));
            };
            if case != p.case || p.reported || case < 0 {
                return Err(violation("reported a case that is not running"));
            }
            p.reported = true;
            let outcome = CaseOutcome {
                status,
                value_repr: repr,
                value_json: json,
                error_type,
                error,
                stdout,
                instructions: session.fuel.saturating_sub(fuel_left),
                wall_us: session.case_started.elapsed().as_micros() as u64,
                coverage: coverage.and_then(Coverage::checked),
            };
            let record = (p.job, case as usize, outcome);
            if p.probing() {
                session.probes.push(record);
            } else {
                session.outcomes.push(record);
            }
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(cases: usize) -> Session {
        let task = Task {
            job: 7,
            first: 0,
            end: cases,
            probe: false,
            frame: b"job".to_vec(),
        };
        Session::new(VecDeque::from([task]), (100, 1000), 5)
    }

    fn send(session: &mut Session, frame: &str) -> wasmtime::Result<Vec<u8>> {
        answer(
            session,
            serde_json::from_str(frame).expect("a valid frame"),
            40,
        )
    }

    const DONE: &str = r#"{"op":"done","case":CASE,"status":"ok","repr":"1","json":"1","error_type":null,"error":null,"stdout":""}"#;

    fn done(case: i64) -> String {
        DONE.replace("CASE", &case.to_string())
    }

    #[test]
    fn a_well_behaved_driver_reports_every_case() {
        let mut s = session(2);
        assert_eq!(send(&mut s, r#"{"op":"next"}"#).unwrap(), b"job");
        for case in [-1, 0, 1] {
            send(&mut s, &format!(r#"{{"op":"begin","case":{case}}}"#)).unwrap();
            if case >= 0 {
                send(&mut s, &done(case)).unwrap();
            }
        }
        assert_eq!(send(&mut s, r#"{"op":"next"}"#).unwrap(), b"");
        let cases: Vec<_> = s
            .outcomes
            .iter()
            .map(|(job, case, o)| (*job, *case, o.instructions))
            .collect();
        assert_eq!(cases, vec![(7, 0, 60), (7, 1, 60)]);
    }

    /// The job, its define step and its `cases` cases, each reported.
    fn run_every_case(s: &mut Session, cases: i64) {
        send(s, r#"{"op":"next"}"#).unwrap();
        for case in -1..cases {
            send(s, &format!(r#"{{"op":"begin","case":{case}}}"#)).unwrap();
            if case >= 0 {
                send(s, &done(case)).unwrap();
            }
        }
    }

    fn probing_session(cases: usize) -> Session {
        let mut s = session(cases);
        s.tasks[0].probe = true;
        s
    }

    #[test]
    fn a_probing_driver_reruns_its_returning_cases_in_a_new_order() {
        let mut s = probing_session(3);
        run_every_case(&mut s, 3);
        assert!(
            send(&mut s, r#"{"op":"next"}"#).is_err(),
            "the job is not finished before its probe"
        );
        let mut s = probing_session(3);
        run_every_case(&mut s, 3);
        assert_eq!(send(&mut s, r#"{"op":"probe"}"#).unwrap(), b"2,0,1");
        assert!(s.position.as_ref().unwrap().probing());
        assert!(
            send(&mut s, r#"{"op":"begin","case":0}"#).is_err(),
            "probed out of order"
        );
        let mut s = probing_session(3);
        run_every_case(&mut s, 3);
        send(&mut s, r#"{"op":"probe"}"#).unwrap();
        for case in [2, 0, 1] {
            send(&mut s, &format!(r#"{{"op":"begin","case":{case}}}"#)).unwrap();
            send(&mut s, &done(case)).unwrap();
        }
        assert_eq!(send(&mut s, r#"{"op":"next"}"#).unwrap(), b"");
        let probed: Vec<_> = s.probes.iter().map(|(_, case, _)| *case).collect();
        assert_eq!(probed, vec![2, 0, 1]);
        assert_eq!(s.outcomes.len(), 3);
    }

    #[test]
    fn a_probe_is_refused_when_not_asked_for_or_too_early() {
        let mut s = session(1);
        send(&mut s, r#"{"op":"next"}"#).unwrap();
        send(&mut s, r#"{"op":"begin","case":-1}"#).unwrap();
        send(&mut s, r#"{"op":"begin","case":0}"#).unwrap();
        send(&mut s, &done(0)).unwrap();
        assert!(send(&mut s, r#"{"op":"probe"}"#).is_err(), "not asked for");
        let mut s = probing_session(2);
        send(&mut s, r#"{"op":"next"}"#).unwrap();
        send(&mut s, r#"{"op":"begin","case":-1}"#).unwrap();
        send(&mut s, r#"{"op":"begin","case":0}"#).unwrap();
        send(&mut s, &done(0)).unwrap();
        assert!(
            send(&mut s, r#"{"op":"probe"}"#).is_err(),
            "case 1 not run yet"
        );
    }

    #[test]
    fn no_case_keeps_its_place_in_the_probe_order() {
        for n in 0..9usize {
            let order = probe_order((0..n).collect());
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>());
            if n >= 2 {
                assert!(order.iter().enumerate().all(|(i, &c)| i != c), "{order:?}");
            }
        }
    }

    #[test]
    fn out_of_order_frames_end_the_instance() {
        let mut s = session(2);
        send(&mut s, r#"{"op":"next"}"#).unwrap();
        assert!(
            send(&mut s, r#"{"op":"begin","case":0}"#).is_err(),
            "skipped the define step"
        );
        let mut s = session(2);
        send(&mut s, r#"{"op":"next"}"#).unwrap();
        send(&mut s, r#"{"op":"begin","case":-1}"#).unwrap();
        send(&mut s, r#"{"op":"begin","case":0}"#).unwrap();
        assert!(
            send(&mut s, &done(1)).is_err(),
            "reported a case that is not running"
        );
        let mut s = session(2);
        send(&mut s, r#"{"op":"next"}"#).unwrap();
        send(&mut s, r#"{"op":"begin","case":-1}"#).unwrap();
        send(&mut s, r#"{"op":"begin","case":0}"#).unwrap();
        send(&mut s, &done(0)).unwrap();
        assert!(send(&mut s, &done(0)).is_err(), "reported twice");
        assert!(
            send(&mut s, r#"{"op":"next"}"#).is_err(),
            "left case 1 unrun"
        );
    }
}
