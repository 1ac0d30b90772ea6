#!/usr/bin/env bash
# Regenerates the audio fixtures in this folder. Needs espeak-ng, sox and ffmpeg (Debian packages).
# Outputs are committed so tests never need these tools; rerun after changing a line here.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
enc() { ffmpeg -nostdin -hide_banner -loglevel error -y -fflags +bitexact "$@"; }

# Voices: the agent is a female US voice, the customer a lower male UK voice, so that the
# speaker-embedding diarizer has two distinguishable speakers.
AGENT=(-v en-us+Annie -p 60 -s 165)
CUSTOMER=(-v en-gb+Andy -p 35 -s 160)
say() { # say OUT VOICE... -- TEXT: speak TEXT into a 16 kHz mono wav
  local out=$1; shift; local args=(); while [[ $1 != -- ]]; do args+=("$1"); shift; done; shift
  espeak-ng "${args[@]}" -w "$work/raw.wav" "$1"
  sox "$work/raw.wav" -r 16000 -c 1 -b 16 "$out" norm -3
}

# --- one English clip in every container/codec a call recording may come in ---------------------
EN_TEXT="Hello, thank you for calling Hamsu support. My name is Sarah. How can I help you today?"
say "$work/en.wav" "${AGENT[@]}" -- "$EN_TEXT"
echo "$EN_TEXT" > en_text.txt
sox "$work/en.wav" -r 8000 -b 16 en_8k.wav                                  # telephony PCM
enc -i "$work/en.wav" -ar 8000 -c:a pcm_mulaw en_8k_ulaw.wav                 # G.711 mu-law
enc -i "$work/en.wav" -c:a libmp3lame -b:a 32k en.mp3
enc -i "$work/en.wav" -c:a libopus -b:a 24k en.ogg
enc -i "$work/en.wav" -ar 44100 -ac 2 -c:a flac -sample_fmt s16 en_44k_stereo.flac
enc -i "$work/en.wav" -c:a aac -b:a 32k en.m4a
enc -i "$work/en.wav" -c:a libopus -b:a 24k en.webm

# --- Persian clip (espeak-ng Persian voice) --------------------------------------------------------
FA_TEXT="سلام، ممنون از تماس شما. من کارشناس پشتیبانی هستم. چطور می‌تونم کمکتون کنم؟"
say "$work/fa.wav" -v fa -s 150 -- "$FA_TEXT"
echo "$FA_TEXT" > fa_text.txt
enc -i "$work/fa.wav" -c:a libopus -b:a 24k fa.ogg

# --- a short agent/customer dialogue: stereo (one party per channel) and mono (both mixed) ---------
lines=(
  "agent|Thank you for calling Hamsu support, my name is Sarah. How can I help you today?"
  "customer|Hi. My internet has been down since yesterday and I am really upset about it."
  "agent|I am sorry to hear that. Could you give me your account number, please?"
  "customer|Yes, it is four five six seven eight."
)
: > dialogue.txt
agent_parts=() ; customer_parts=() ; i=0
for line in "${lines[@]}"; do
  who=${line%%|*}; text=${line#*|}; i=$((i + 1))
  echo "$who: $text" >> dialogue.txt
  if [[ $who == agent ]]; then say "$work/u$i.wav" "${AGENT[@]}" -- "$text"
  else say "$work/u$i.wav" "${CUSTOMER[@]}" -- "$text"; fi
  sox "$work/u$i.wav" "$work/u${i}_pad.wav" pad 0 0.6          # a pause after each utterance
  sox "$work/u${i}_pad.wav" "$work/s$i.wav" vol 0               # same length, silent
  if [[ $who == agent ]]; then agent_parts+=("$work/u${i}_pad.wav"); customer_parts+=("$work/s$i.wav")
  else agent_parts+=("$work/s$i.wav"); customer_parts+=("$work/u${i}_pad.wav"); fi
done
sox "${agent_parts[@]}" "$work/agent.wav"
sox "${customer_parts[@]}" "$work/customer.wav"
# left = customer, right = agent (the default agent_channel is 1), 8 kHz telephony
sox -M "$work/customer.wav" "$work/agent.wav" -r 8000 -b 16 dialogue_stereo_8k.wav
sox -m "$work/customer.wav" "$work/agent.wav" -r 16000 -b 16 dialogue_mono.wav

# --- bad inputs ------------------------------------------------------------------------------------
: > empty.wav
printf '%%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%%%EOF\n' \
  > fake_pdf.wav
printf 'This is a plain text note that somebody saved with an .mp3 extension.\n' > text.mp3
size=$(stat -c %s en.mp3)
head -c $((size / 2)) en.mp3 > truncated.mp3            # the first half still decodes (> 0.5 s)
head -c 1200 en.mp3 > truncated_tiny.mp3                 # well under 0.5 s of audio survives
enc -f lavfi -i color=c=black:s=16x16:d=1:r=5 -c:v libvpx -an video_only.webm
