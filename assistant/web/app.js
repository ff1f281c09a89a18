// The chat page: sends the conversation to /v1/chat/completions like any OpenAI client and reads the reply as it
// streams (server-sent events); shows the remembered session after a reload; forgets on request.
"use strict";

const $ = (id) => document.getElementById(id);
const logEl = $("log"), userEl = $("user"), messageEl = $("message"), sendEl = $("send");
const forgetEl = $("forget"), statusEl = $("status");
const USER_KEY = "miniature-memory-user";  // the user name survives a reload (stored in this browser only)
let conversation = [];  // the shown session's {role, content}: sent whole, the server matches it to its session
let model = null;
let loading = Promise.resolve();  // the history being loaded: a message waits for it, or it would be wiped

function show(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;  // never innerHTML: messages are text, whatever they contain
  logEl.append(div);
  div.scrollIntoView({block: "end"});
  return div;
}

function userName() { return userEl.value.trim() || "default"; }

function setBusy(busy) { sendEl.disabled = forgetEl.disabled = userEl.disabled = busy; }

async function errorText(response) {
  try { return (await response.json()).error.message; }
  catch { return `${response.status} ${response.statusText}`; }
}

function loadHistory() {
  loading = fetchHistory().catch((e) => { statusEl.textContent = "Could not load the history: " + e.message; });
  return loading;
}

async function fetchHistory() {
  logEl.replaceChildren();
  conversation = [];
  const response = await fetch("/api/history?user=" + encodeURIComponent(userName()));
  if (!response.ok) { statusEl.textContent = await errorText(response); return; }
  const data = await response.json();
  for (const m of data.messages) {
    conversation.push({role: m.role, content: m.content});
    show(m.role, m.content);
  }
  statusEl.textContent = data.messages.length ? `Remembered: ${data.messages.length} messages of the last session.` : "";
}

// Each complete event of an SSE buffer: its "data: " payloads, parsed (the "[DONE]" marker left out).
function takeEvents(buffer, onData) {
  let end;
  while ((end = buffer.indexOf("\n\n")) >= 0) {
    for (const line of buffer.slice(0, end).split("\n")) {
      if (line.startsWith("data: ") && line.slice(6) !== "[DONE]") onData(JSON.parse(line.slice(6)));
    }
    buffer = buffer.slice(end + 2);
  }
  return buffer;
}

async function send(text) {
  setBusy(true);
  await loading;
  statusEl.textContent = "";
  show("user", text);
  const bubble = show("assistant", "…");
  let reply = "", broken = false;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({model, user: userName(), stream: true,
                            messages: [...conversation, {role: "user", content: text}]})});
    if (!response.ok) {  // refused before anything was stored
      bubble.remove();
      show("error", await errorText(response));
      return;
    }
    conversation.push({role: "user", content: text});
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer = takeEvents(buffer + decoder.decode(value, {stream: true}), (chunk) => {
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices.length ? chunk.choices[0].delta : {};
        if (delta.content) { reply += delta.content; bubble.textContent = reply; }
      });
    }
    bubble.textContent = reply.trim() || "...";
    conversation.push({role: "assistant", content: reply.trim() || "..."});
  } catch (e) {
    broken = true;
    show("error", "The reply was cut short: " + e.message);
  } finally {
    setBusy(false);
    messageEl.focus();
  }
  if (broken) await loadHistory();  // show what the server kept, so the next message continues that session
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = messageEl.value.trim();
  if (!text || sendEl.disabled) return;
  messageEl.value = "";
  send(text);
});

messageEl.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

userEl.addEventListener("change", () => {
  localStorage.setItem(USER_KEY, userName());
  loadHistory();
});

forgetEl.addEventListener("click", async () => {
  if (!confirm(`Forget everything remembered for "${userName()}"? This cannot be undone.`)) return;
  setBusy(true);
  try {
    const response = await fetch("/api/forget", {method: "POST", headers: {"Content-Type": "application/json"},
                                                 body: JSON.stringify({user: userName()})});
    if (!response.ok) { statusEl.textContent = await errorText(response); return; }
    const data = await response.json();
    logEl.replaceChildren();
    conversation = [];
    statusEl.textContent = `Forgot ${data.forgotten.messages} messages in ${data.forgotten.sessions} sessions.`;
  } finally {
    setBusy(false);
  }
});

async function start() {
  userEl.value = localStorage.getItem(USER_KEY) || userEl.value;
  try {
    const response = await fetch("/v1/models");
    if (response.ok) model = (await response.json()).data[0].id;
  } catch { /* the chat request reports a server that is down */ }
  await loadHistory();
}

start();
