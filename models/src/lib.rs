//! Speech and language models for VoiceERA-rs.
//!
//! This crate will hold the streaming `SpeechToText`, `TextToSpeech`, `LanguageModel` and `TurnDetector` traits,
//! the local engines (Whisper, Silero, Piper, SmolLM, AI4Bharat) and the cloud clients with fallback chains; see
//! `design.md`. It depends on no other crate of the workspace, so the media engine and the API can share it.
//! It is intentionally empty until the conversation engine and local-models work lands.
