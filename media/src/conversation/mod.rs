//! The conversation engine (issue: conversation engine). Today it holds the pure turn-taking machine; the
//! per-call loop that drives it with VAD, STT, LLM and TTS events joins it next, following the design: one
//! task per call, one `select!`, time from a clock, actions executed by the loop.

pub mod engine;
pub mod turn;
