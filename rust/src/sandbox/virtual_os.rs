//! What the guest sees of the world: no files but the read-only stdlib, no environment, no
//! network, and clocks and randomness that are the same on every run and machine.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{Deterministic, FsPerms, HostMonotonicClock, HostWallClock, WasiCtxBuilder};

/// Where the guest finds its standard library (it expects `python315.zip` in it).
pub const STDLIB_GUEST_DIR: &str = "/usr/local/lib";
/// Each clock read advances virtual time by this much, so waiting-for-time loops end.
const CLOCK_STEP_NS: u64 = 1_000;

/// Virtual nanoseconds since the instance started, shared by both clocks and `poll_oneoff`.
#[derive(Clone, Default)]
pub struct VirtualTime(Arc<AtomicU64>);

impl VirtualTime {
    fn tick(&self) -> u64 {
        self.0.fetch_add(CLOCK_STEP_NS, Ordering::Relaxed) + CLOCK_STEP_NS
    }

    pub fn advance(&self, ns: u64) {
        self.0.fetch_add(ns, Ordering::Relaxed);
    }

    pub fn advance_to(&self, ns: u64) {
        self.0.fetch_max(ns, Ordering::Relaxed);
    }

    pub fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Where the guest's clocks start and what its randomness draws from. Every instance of a run
/// gets the same world, so a call gives the same result on every run and machine; the stability
/// check runs cases again in [`World::PERTURBED`], which a function's result must not notice.
#[derive(Clone, Copy, Debug)]
pub struct World {
    /// What `time.time()` starts from.
    pub wall_start: Duration,
    /// What `time.monotonic()` starts from, in nanoseconds.
    pub monotonic_start: u64,
    /// Bytes `os.urandom` and `random_get` cycle through.
    pub random: [u8; 32],
    pub random_seed: u128,
}

impl World {
    /// 2024-01-01T00:00:00Z (a Monday), monotonic clock at 0, bytes = sha256("case2code").
    pub const STANDARD: World = World {
        wall_start: Duration::from_secs(1_704_067_200),
        monotonic_start: 0,
        random: [
            0x3f, 0x4e, 0x7a, 0x91, 0x0c, 0x5d, 0xb2, 0x68, 0x1e, 0xa7, 0x93, 0x44, 0xd0, 0x2b,
            0x8f, 0x15, 0x6c, 0xe1, 0x37, 0x09, 0xfa, 0x52, 0xbd, 0x80, 0x24, 0x7e, 0xc9, 0x13,
            0x5a, 0xef, 0x66, 0xd8,
        ],
        random_seed: 0x6361_7365_3263_6f64,
    };

    /// 2031-07-19T13:37:11Z (a Saturday, another year, month, day and time of day), the
    /// monotonic clock ~11.6 days in, other random bytes (sha256 of "perturbed").
    pub const PERTURBED: World = World {
        wall_start: Duration::from_secs(1_942_321_031),
        monotonic_start: 1_000_003_000_000_000,
        random: [
            0x8d, 0x21, 0xc4, 0x5b, 0xe7, 0x03, 0x9a, 0x6f, 0x32, 0xd8, 0x14, 0xa9, 0x7c, 0x50,
            0xfb, 0x2e, 0x61, 0x0d, 0xb6, 0x93, 0x48, 0xec, 0x27, 0x85, 0x1a, 0xc3, 0x5e, 0x79,
            0xf0, 0x36, 0xab, 0x44,
        ],
        random_seed: 0x7065_7274_7572_6264,
    };
}

struct Monotonic(VirtualTime, u64);

impl HostMonotonicClock for Monotonic {
    fn resolution(&self) -> u64 {
        CLOCK_STEP_NS
    }
    fn now(&self) -> u64 {
        self.1 + self.0.tick()
    }
}

struct Wall(VirtualTime, Duration);

impl HostWallClock for Wall {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(CLOCK_STEP_NS)
    }
    fn now(&self) -> Duration {
        self.1 + Duration::from_nanos(self.0.tick())
    }
}

pub struct GuestOs {
    pub wasi: WasiP1Ctx,
    pub time: VirtualTime,
    pub world: World,
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

pub fn guest_os(stdlib_dir: &Path, pipe_bytes: usize, world: World) -> wasmtime::Result<GuestOs> {
    let time = VirtualTime::default();
    let stdout = MemoryOutputPipe::new(pipe_bytes);
    let stderr = MemoryOutputPipe::new(pipe_bytes);
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(&["/usr/local/bin/python.wasm"])
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .preopened_dir(stdlib_dir, STDLIB_GUEST_DIR, FsPerms::ReadOnly)?
        .wall_clock(Wall(time.clone(), world.wall_start))
        .monotonic_clock(Monotonic(time.clone(), world.monotonic_start))
        .secure_random(Deterministic::new(world.random.to_vec()))
        .insecure_random(Deterministic::new(world.random.to_vec()))
        .insecure_random_seed(world.random_seed)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    Ok(GuestOs {
        wasi: builder.build_p1(),
        time,
        world,
        stdout,
        stderr,
    })
}

/// WASI `poll_oneoff` without waiting: every subscription is ready at once and a clock
/// subscription moves virtual time forward instead of sleeping, so `time.sleep(10**9)` neither
/// blocks the worker nor changes the result. Layouts are WASI preview 1's
/// (subscription 48 bytes, event 32 bytes).
pub fn poll_now(
    memory: &mut [u8],
    time: &VirtualTime,
    world: &World,
    subs: u32,
    events: u32,
    n: u32,
    count_out: u32,
) -> i32 {
    const EINVAL: i32 = 28;
    const EFAULT: i32 = 21;
    const CLOCK: u8 = 0;
    let (subs, events, n, count_out) = (
        subs as usize,
        events as usize,
        n as usize,
        count_out as usize,
    );
    if n == 0 || n > 4096 {
        return EINVAL;
    }
    let fits = |start: usize, len: usize| {
        start
            .checked_add(len)
            .is_some_and(|end| end <= memory.len())
    };
    if !fits(subs, 48 * n) || !fits(events, 32 * n) || !fits(count_out, 4) {
        return EFAULT;
    }
    for i in 0..n {
        let sub = subs + 48 * i;
        let mut userdata = [0u8; 8];
        userdata.copy_from_slice(&memory[sub..sub + 8]);
        let tag = memory[sub + 8];
        if tag == CLOCK {
            let timeout = u64::from_le_bytes(memory[sub + 24..sub + 32].try_into().unwrap());
            let absolute =
                u16::from_le_bytes(memory[sub + 40..sub + 42].try_into().unwrap()) & 1 == 1;
            if absolute {
                let realtime =
                    u32::from_le_bytes(memory[sub + 16..sub + 20].try_into().unwrap()) == 0;
                let start = if realtime {
                    world.wall_start.as_nanos() as u64
                } else {
                    world.monotonic_start
                };
                time.advance_to(timeout.saturating_sub(start));
            } else {
                time.advance(timeout);
            }
        }
        let event = events + 32 * i;
        memory[event..event + 32].fill(0);
        memory[event..event + 8].copy_from_slice(&userdata);
        memory[event + 10] = tag;
    }
    memory[count_out..count_out + 4].copy_from_slice(&(n as u32).to_le_bytes());
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_moves_virtual_time_instead_of_blocking() {
        let time = VirtualTime::default();
        let mut memory = vec![0u8; 256];
        // One relative clock subscription (monotonic, id 1) for 10**18 ns, userdata 42.
        memory[0..8].copy_from_slice(&42u64.to_le_bytes());
        memory[8] = 0;
        memory[16..20].copy_from_slice(&1u32.to_le_bytes());
        memory[24..32].copy_from_slice(&1_000_000_000_000_000_000u64.to_le_bytes());
        let started = std::time::Instant::now();
        assert_eq!(
            poll_now(&mut memory, &time, &World::STANDARD, 0, 64, 1, 128),
            0
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(time.now(), 1_000_000_000_000_000_000);
        assert_eq!(u64::from_le_bytes(memory[64..72].try_into().unwrap()), 42);
        assert_eq!(u32::from_le_bytes(memory[128..132].try_into().unwrap()), 1);
    }

    #[test]
    fn bad_pointers_are_refused() {
        let time = VirtualTime::default();
        let mut memory = vec![0u8; 64];
        assert_eq!(
            poll_now(&mut memory, &time, &World::STANDARD, 0, 48, 1, 0),
            21
        );
        assert_eq!(
            poll_now(&mut memory, &time, &World::STANDARD, 0, 0, 0, 0),
            28
        );
    }

    #[test]
    fn clocks_advance_deterministically() {
        let time = VirtualTime::default();
        let world = World::STANDARD;
        let (mono, wall) = (
            Monotonic(time.clone(), world.monotonic_start),
            Wall(time.clone(), world.wall_start),
        );
        assert_eq!(mono.now(), 1_000);
        assert_eq!(wall.now(), world.wall_start + Duration::from_nanos(2_000));
    }
}
