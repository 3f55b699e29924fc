#!/usr/bin/env bash
# Builds the labelled answering-machine set the AMD bench measures (bench/results/amd.md): 8 kHz mono 16-bit
# WAV clips of people answering ("Hello?", "Hi, this is Asha", "Yes?" — then waiting) and of voicemail greetings
# (long "you've reached …" speech, with a 1000/1400 Hz beep or none, some with a music-like chord intro), spoken by
# espeak-ng in varied voices and speeds, with line noise on some. Deterministic: same tools, same clips.
# Usage: scripts/amd-clips.sh OUT_DIR   (writes OUT_DIR/*.wav and OUT_DIR/labels.csv: file,label,beep)
set -euo pipefail
out=${1:?usage: amd-clips.sh OUT_DIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "file,label,beep" > "$out/labels.csv"

voices=(en-us en-gb en-gb-scotland en-029 en-gb-x-rp en-us+f3 en-us+m3 en-gb+f2)
speeds=(150 175 200 165 185 140 190 170)
pitches=(50 40 60 70 45 55 35 65)

# speak TEXT VOICE SPEED PITCH OUT: espeak-ng at its rate, resampled to 8 kHz mono.
speak() {
    espeak-ng -v "$2" -s "$3" -p "$4" -w "$tmp/raw.wav" "$1"
    sox "$tmp/raw.wav" -r 8000 -c 1 -b 16 "$5" norm -3
}
silence() { sox -n -r 8000 -c 1 -b 16 "$2" trim 0 "$1"; }
beep() { sox -n -r 8000 -c 1 -b 16 "$3" synth "$2" sine "$1" vol 0.4; }
# A music-like intro: three-note chords changing every 300 ms (not a single steady tone, so not a beep).
music() {
    sox -n -r 8000 -c 1 -b 16 "$tmp/m1.wav" synth 0.3 sine 523 sine 659 sine 784 channels 1 vol 0.3
    sox -n -r 8000 -c 1 -b 16 "$tmp/m2.wav" synth 0.3 sine 440 sine 554 sine 659 channels 1 vol 0.3
    sox -n -r 8000 -c 1 -b 16 "$tmp/m3.wav" synth 0.3 sine 587 sine 740 sine 880 channels 1 vol 0.3
    sox "$tmp/m1.wav" "$tmp/m2.wav" "$tmp/m3.wav" "$tmp/m1.wav" "$1"
}
# noisy IN OUT LEVEL: mixes brown noise (a phone line's hiss) under the clip.
noisy() {
    local len
    len=$(soxi -D "$1")
    sox -n -r 8000 -c 1 -b 16 "$tmp/noise.wav" synth "$len" brownnoise vol "$3"
    sox -m "$1" "$tmp/noise.wav" "$2"
}

humans=(
    "Hello?"
    "Hi, this is Asha."
    "Yes?"
    "Hello, who is this?"
    "Hey."
    "Speaking."
    "Hello, Ravi here."
    "Yeah, hello?"
)
machines=(
    "Hi, you've reached the voicemail of John Smith. I can't take your call right now, please leave a message after the tone."
    "Hello, you have reached Asha. Sorry I missed your call. Leave your name and number and I will call you back."
    "The person you are calling is not available. Please record your message after the tone. When you are finished, hang up."
    "Thanks for calling Green Valley Dental. Our office is closed. Please leave a message and we will return your call."
    "Hey, it's Mike. Can't talk right now. Leave a message."
    "You have reached five five five, one two three four. Please leave a message after the beep."
)

n=0
# Humans: 8 phrases x 3 voice/speed variants = 24; every third clip with line noise; some say it twice.
for i in "${!humans[@]}"; do
    for k in 0 1 2; do
        v=$(( (i + k * 3) % ${#voices[@]} ))
        name=$(printf "human-%02d.wav" "$n")
        speak "${humans[$i]}" "${voices[$v]}" "${speeds[$v]}" "${pitches[$v]}" "$tmp/speech.wav"
        lead=$(printf "0.%d" $(( 2 + (n * 3) % 8 )))
        silence "$lead" "$tmp/lead.wav"
        silence 2.5 "$tmp/wait.wav"
        if (( k == 2 && i % 2 == 0 )); then
            # Nobody answered the first hello: the person says it again after the wait.
            sox "$tmp/lead.wav" "$tmp/speech.wav" "$tmp/wait.wav" "$tmp/speech.wav" "$tmp/wait.wav" "$tmp/clip.wav"
        else
            sox "$tmp/lead.wav" "$tmp/speech.wav" "$tmp/wait.wav" "$tmp/wait.wav" "$tmp/clip.wav"
        fi
        if (( n % 3 == 2 )); then noisy "$tmp/clip.wav" "$out/$name" 0.05; else cp "$tmp/clip.wav" "$out/$name"; fi
        echo "$name,human,none" >> "$out/labels.csv"
        n=$((n + 1))
    done
done

# Machines: 6 greetings x 4 variants (beep 1000 Hz, beep 1400 Hz, no beep, music intro + beep 1000 Hz) = 24.
n=0
for i in "${!machines[@]}"; do
    for k in 0 1 2 3; do
        v=$(( (i * 2 + k) % ${#voices[@]} ))
        name=$(printf "machine-%02d.wav" "$n")
        speak "${machines[$i]}" "${voices[$v]}" "${speeds[$v]}" "${pitches[$v]}" "$tmp/speech.wav"
        lead=$(printf "0.%d" $(( 1 + (n * 7) % 6 )))
        silence "$lead" "$tmp/lead.wav"
        silence 0.4 "$tmp/gap.wav"
        silence 2.0 "$tmp/tail.wav"
        parts=("$tmp/lead.wav")
        tone=none
        case $k in
            0) tone=1000 ;;
            1) tone=1400 ;;
            3) tone=1000; music "$tmp/music.wav"; parts+=("$tmp/music.wav" "$tmp/gap.wav") ;;
        esac
        parts+=("$tmp/speech.wav" "$tmp/gap.wav")
        if [[ $tone != none ]]; then
            beep "$tone" "0.$(( 3 + n % 5 ))" "$tmp/beep.wav"
            parts+=("$tmp/beep.wav")
        fi
        parts+=("$tmp/tail.wav")
        sox "${parts[@]}" "$tmp/clip.wav"
        if (( n % 3 == 1 )); then noisy "$tmp/clip.wav" "$out/$name" 0.05; else cp "$tmp/clip.wav" "$out/$name"; fi
        echo "$name,machine,$tone" >> "$out/labels.csv"
        n=$((n + 1))
    done
done
echo "$(($(wc -l < "$out/labels.csv") - 1)) clips in $out"
