//! The conversation engine: what an agent is and says ([`agent`]), the turn-taking machine ([`turn`]), the
//! per-call conversation that drives it with VAD, STT, LLM and TTS one 20 ms frame at a time ([`engine`]), and
//! the agent's knowledge documents behind its `knowledge_lookup` tool ([`knowledge`]).

pub mod agent;
pub mod engine;
pub mod knowledge;
pub mod turn;
