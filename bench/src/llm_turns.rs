//! `llm-turns`: the local LLM's first token on each turn of a six-turn call, with and without the conversation
//! cache (prefix reuse between turns), run back to back in one process on the same weights.
//!
//! Without the cache every reply prefills the whole history (the agent's system prompt and greeting are
//! prefilled once at load either way, as the agents run), so the first token comes later on each turn. The
//! rounds alternate the two modes, so that whatever else the machine runs weighs on both alike; the figures
//! are medians per turn over the rounds, and the report gives their ratio.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use voicera_models::{ChatMessage, Role};
use voicera_models_local::smollm::{GenerationParams, SmolLm, DEFAULT_CONVERSATION_CACHE_BYTES};
use voicera_models_local::{cache, ModelCache};

use crate::models::{DEMO_PROMPT, GREETING};

/// What the caller says, turn by turn.
const CALLER: [&str; 6] = [
    "Hi, who am I talking to?",
    "How many days are in a week?",
    "And how many hours are in a day?",
    "Can you tell me a fun fact about cats?",
    "What should I cook for dinner tonight?",
    "Thanks, that is all. Goodbye!",
];

/// One turn in one mode: medians over the rounds.
#[derive(Debug, Serialize)]
pub(crate) struct TurnFigures {
    turn: usize,
    prompt_tokens: usize,
    /// Prompt tokens the model ran on this turn (the rest came from a cache).
    prefilled_tokens: usize,
    first_token_ms: f64,
}

/// The report of one model.
#[derive(Debug, Serialize)]
pub(crate) struct LlmTurnsReport {
    model: String,
    rounds: usize,
    /// Whole history prefilled each turn (system prompt and greeting prefilled at load).
    without_cache: Vec<TurnFigures>,
    /// The call's cache kept between turns.
    with_cache: Vec<TurnFigures>,
    /// Whether both modes gave the same replies, token piece by piece, in every round.
    same_replies: bool,
    /// Where they first differed: (round, turn), from 1.
    first_difference: Option<(usize, usize)>,
    /// The conversation cache after the last round.
    cache_entries: usize,
    cache_bytes: usize,
    replies: Vec<String>,
    threads: usize,
    machine: String,
}

/// One six-turn conversation on `model`: per turn, the prompt length, the tokens prefilled, the time to the
/// first token, and the reply's pieces.
fn conversation(model: &SmolLm) -> Result<Vec<(usize, usize, f64, Vec<String>)>> {
    let mut history = vec![
        ChatMessage { role: Role::System, content: DEMO_PROMPT.into() },
        ChatMessage { role: Role::Assistant, content: GREETING.into() },
    ];
    let mut turns = Vec::new();
    for line in CALLER {
        history.push(ChatMessage { role: Role::User, content: line.into() });
        let prompt_tokens = model.prompt_tokens(&history)?.len();
        let before = model.conversation_cache_stats().prefilled_tokens;
        let started = Instant::now();
        let mut first = None;
        let mut pieces = Vec::new();
        model.generate(&history, GenerationParams::default(), |piece| {
            first.get_or_insert(started.elapsed());
            pieces.push(piece.to_string());
            true
        })?;
        let prefilled = (model.conversation_cache_stats().prefilled_tokens - before) as usize;
        let first_ms = first.unwrap_or(started.elapsed()).as_secs_f64() * 1000.0;
        history.push(ChatMessage { role: Role::Assistant, content: pieces.concat().trim().to_string() });
        turns.push((prompt_tokens, prefilled, first_ms, pieces));
    }
    Ok(turns)
}

/// Runs `rounds` rounds of the conversation in each mode on `name` from `models_dir`.
pub(crate) fn run(models_dir: &Path, name: &str, rounds: usize) -> Result<LlmTurnsReport> {
    let cache = ModelCache::new(models_dir.to_path_buf());
    let spec = cache::spec(name).with_context(|| format!("no model {name} in the catalogue"))?;
    cache.fetch(spec).with_context(|| format!("fetch {name}"))?;
    let loaded = SmolLm::load(&cache.require(name)?.join("model.gguf"), &candle_core::Device::Cpu)?;
    let prefix = [
        ChatMessage { role: Role::System, content: DEMO_PROMPT.into() },
        ChatMessage { role: Role::Assistant, content: GREETING.into() },
    ];
    let rounds = rounds.max(1);
    let mut cold_turns: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); CALLER.len()];
    let mut warm_turns: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); CALLER.len()];
    let mut same_replies = true;
    let mut first_difference = None;
    let mut replies = Vec::new();
    let mut warm_model = None;
    for round in 0..rounds {
        // A fresh cache each round, so that every round's first turn is a new call's.
        let cold = loaded.clone().with_conversation_cache(0).with_prefix(&prefix)?;
        let warm = loaded.clone().with_conversation_cache(DEFAULT_CONVERSATION_CACHE_BYTES).with_prefix(&prefix)?;
        // Alternate which mode goes first.
        let (cold_run, warm_run) = if round % 2 == 0 {
            let c = conversation(&cold)?;
            (c, conversation(&warm)?)
        } else {
            let w = conversation(&warm)?;
            (conversation(&cold)?, w)
        };
        for (i, (c, w)) in cold_run.iter().zip(&warm_run).enumerate() {
            if c.3 != w.3 && same_replies {
                same_replies = false;
                first_difference = Some((round + 1, i + 1));
            }
            cold_turns[i].push((c.0, c.1, c.2));
            warm_turns[i].push((w.0, w.1, w.2));
        }
        replies = warm_run.iter().map(|t| t.3.concat().trim().to_string()).collect();
        warm_model = Some(warm);
    }
    let Some(warm) = warm_model else { bail!("no round ran") };
    let figures = |turns: &[Vec<(usize, usize, f64)>]| -> Vec<TurnFigures> {
        turns
            .iter()
            .enumerate()
            .map(|(i, runs)| TurnFigures {
                turn: i + 1,
                prompt_tokens: runs.first().map_or(0, |r| r.0),
                prefilled_tokens: runs.first().map_or(0, |r| r.1),
                first_token_ms: median(runs.iter().map(|r| r.2).collect()),
            })
            .collect()
    };
    let stats = warm.conversation_cache_stats();
    Ok(LlmTurnsReport {
        model: name.to_string(),
        rounds,
        without_cache: figures(&cold_turns),
        with_cache: figures(&warm_turns),
        same_replies,
        first_difference,
        cache_entries: stats.entries,
        cache_bytes: stats.bytes,
        replies,
        threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        machine: crate::procfs::machine(),
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The report as a Markdown table.
pub(crate) fn markdown(report: &LlmTurnsReport) -> String {
    let mut md = format!(
        "### {} — first token per turn, {} rounds (median), {} threads, {}\n\n\
         | turn | prompt tokens | prefilled without cache | first token without cache | prefilled with cache | \
         first token with cache | ratio |\n|---|---|---|---|---|---|---|\n",
        report.model, report.rounds, report.threads, report.machine
    );
    for (cold, warm) in report.without_cache.iter().zip(&report.with_cache) {
        md.push_str(&format!(
            "| {} | {} | {} | {:.0} ms | {} | {:.0} ms | {:.2}× |\n",
            cold.turn,
            cold.prompt_tokens,
            cold.prefilled_tokens,
            cold.first_token_ms,
            warm.prefilled_tokens,
            warm.first_token_ms,
            cold.first_token_ms / warm.first_token_ms.max(1e-9)
        ));
    }
    let same = match report.first_difference {
        None => "yes".to_string(),
        Some((round, turn)) => format!("no, first at turn {turn} of round {round}"),
    };
    md.push_str(&format!(
        "\nSame replies in both modes, piece by piece: {same}. Cache after the call: {} entries, {:.1} MB.\n",
        report.cache_entries,
        report.cache_bytes as f64 / 1e6
    ));
    md
}
