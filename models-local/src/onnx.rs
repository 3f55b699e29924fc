//! ONNX Runtime for the local engines that run ONNX graphs (Piper, IndicConformer): the runtime library is
//! loaded once per process from the PyPI wheel's `libonnxruntime.so` (ort's `load-dynamic`: no download at
//! build time), and every session is made the same way.

use std::path::Path;
use std::sync::OnceLock;

use ort::session::Session;

use crate::Error;

/// ONNX Runtime is set up once per process, from the first library given.
static RUNTIME: OnceLock<Result<(), String>> = OnceLock::new();

/// Loads ONNX Runtime from `library` (`libonnxruntime.so`, shipped with the Piper voice in the model cache)
/// unless it is loaded already; every ONNX engine calls this before making a session.
pub fn onnx_runtime(library: &Path) -> Result<(), Error> {
    // ort panics on a library it cannot open; a missing file is the operator's mistake to report.
    if RUNTIME.get().is_none() && !library.is_file() {
        return Err(Error::Unavailable(format!("ONNX Runtime: {} does not exist", library.display())));
    }
    RUNTIME
        .get_or_init(|| match ort::init_from(library.to_string_lossy()).with_name("voicera").commit() {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("cannot load ONNX Runtime from {}: {e}", library.display())),
        })
        .clone()
        .map_err(Error::Unavailable)
}

/// A session for the graph at `path`. Two threads halve a Piper clause's synthesis (280 → 150 ms for a 3 s
/// sentence on 2 cores), which is the agent's time to first audio; they sleep between runs instead of
/// spinning, as the cores are shared with Whisper and the calls. With `ort-cuda`, the CUDA provider is
/// registered first; ONNX Runtime falls back to the CPU when it cannot be.
pub(crate) fn session(path: &Path) -> Result<Session, ort::Error> {
    let builder = Session::builder()?;
    #[cfg(feature = "ort-cuda")]
    let builder =
        builder.with_execution_providers([ort::execution_providers::CUDAExecutionProvider::default().build()])?;
    builder.with_intra_threads(2)?.with_intra_op_spinning(false)?.commit_from_file(path)
}
