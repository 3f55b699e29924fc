//! The call core of VoiceERA-rs: what an agent is and how one call with it goes, for every transport alike.
//! Sans-IO throughout: transports (`voicera-telephony`) feed frames, digits, tool results and time in, and
//! carry out what comes out.
//!
//! | module | owns |
//! |---|---|
//! | [`core`] | [`CallCore`](core::CallCore): one call's service (echo or an agent), journal and actions |
//! | [`amd`] | answering-machine detection on calls we place: the gate holding the agent until the verdict |
//! | [`agent`] | what an agent is: prompt, behaviour, limits, tools, `{{variables}}`, farewells |
//! | [`routing`] | where a call goes: the [`Router`](routing::Router) every transport asks the same way |
//! | [`dial_policy`] | where calls may go out: the number and SIP-host policy of the dialer, transfers and REFER |
//! | [`engine`] | the per-call conversation: VAD, STT, LLM, TTS one 20 ms frame at a time, barge-in, tools |
//! | [`turn`] | the turn-taking machine (a pure transition function) |
//! | [`knowledge`] | an agent's documents behind its `knowledge_lookup` tool (BM25 passages) |
//! | [`live`] | the calls in progress on this node: live transcripts and hang-up from outside |
//! | [`journal`] | what a call leaves behind (transcript, timings, stereo recording), and its logs and metrics |
//! | [`recorder`] | call records, stereo WAV and the sinks they are stored in |

#![forbid(unsafe_code)]

pub mod agent;
pub mod amd;
pub mod core;
pub mod dial_policy;
pub mod engine;
pub mod journal;
pub mod knowledge;
pub mod live;
pub mod recorder;
pub mod routing;
pub mod turn;
