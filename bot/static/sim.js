// 督办 · 模拟器 — talk to the bot as any user, without WeCom/DingTalk.
// Plain ES2020, no dependencies. All state lives in the single `state` object.
"use strict";

(() => {
  const STORAGE_KEY = "duban-sim:v1";
  const POLL_MS = 3000;
  const SEND_TIMEOUT_MS = 120000;
  const POLL_TIMEOUT_MS = 10000;
  const MAX_HISTORY = 300;
  const MAX_OUTBOX_SHOWN = 300;
  const ROLE_GROUPS = [
    ["liaison", "联络员"],
    ["coordinator", "协调人"],
    ["pending", "待审核"],
    ["stranger", "未登记用户"],
  ];

  const state = {
    el: {},
    users: [],          // [{id, label, role}] from /sim/api/users
    customIds: [],      // ids typed into "以其他身份"
    currentUser: "",
    histories: {},      // user id -> [{kind: "user"|"bot"|"error"|"note", text, at}]
    sending: false,
    outbox: [],
    outboxSig: "",
    pollTimer: 0,
  };

  // ---------- helpers ----------

  const pad2 = (n) => String(n).padStart(2, "0");

  function formatTime(value) {
    const d = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(d.getTime())) return value ? String(value) : "";
    return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  }

  function makeEl(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setStatus(text, isError = false) {
    state.el.status.textContent = text;
    state.el.status.classList.toggle("is-error", isError);
  }

  function userLabel(id) {
    const user = state.users.find((u) => u.id === id);
    return user ? user.label : `${id}（其他身份）`;
  }

  async function fetchJson(url, options = {}, timeoutMs = POLL_TIMEOUT_MS) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const res = await fetch(url, { ...options, signal: controller.signal });
      const raw = await res.text();
      let body = null;
      try { body = raw ? JSON.parse(raw) : null; } catch { body = null; }
      return { ok: res.ok, status: res.status, body, raw };
    } finally {
      clearTimeout(timer);
    }
  }

  function describeDetail(result) {
    const detail = result.body && result.body.detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => (d && d.msg) || JSON.stringify(d)).join("；");
    }
    if (detail) return JSON.stringify(detail);
    const raw = (result.raw || "").trim().slice(0, 300);
    return raw ? `请求失败（${result.status}）：${raw}` : `请求失败（${result.status}）`;
  }

  function describeNetworkError(err) {
    return err && err.name === "AbortError" ? "请求超时，请稍后重试" : `网络错误：${(err && err.message) || err}`;
  }

  // ---------- persistence ----------

  function loadStorage() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
      if (saved.histories && typeof saved.histories === "object") state.histories = saved.histories;
      if (Array.isArray(saved.customIds)) state.customIds = saved.customIds.filter((x) => typeof x === "string");
      if (typeof saved.currentUser === "string") state.currentUser = saved.currentUser;
    } catch {
      // Corrupt or unavailable storage: start fresh.
    }
  }

  function saveStorage() {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({
        histories: state.histories,
        customIds: state.customIds,
        currentUser: state.currentUser,
      }));
    } catch {
      // Private mode or quota exceeded: history stays in memory only.
    }
  }

  // ---------- users ----------

  function addOptionGroup(select, label, options) {
    if (!options.length) return;
    const group = document.createElement("optgroup");
    group.label = label;
    for (const { value, text } of options) {
      const opt = document.createElement("option");
      opt.value = value;
      opt.textContent = text;
      group.appendChild(opt);
    }
    select.appendChild(group);
  }

  function renderUserSelect() {
    const select = state.el.userSelect;
    select.replaceChildren();
    const placeholder = new Option("— 请选择身份 —", "");
    select.appendChild(placeholder);

    const known = new Set(ROLE_GROUPS.map(([role]) => role));
    for (const [role, title] of ROLE_GROUPS) {
      const users = state.users.filter((u) => u.role === role);
      addOptionGroup(select, title, users.map((u) => ({ value: u.id, text: u.label })));
    }
    const others = state.users.filter((u) => !known.has(u.role));
    addOptionGroup(select, "其他角色", others.map((u) => ({ value: u.id, text: u.label })));

    const listed = new Set(state.users.map((u) => u.id));
    const custom = state.customIds.filter((id) => !listed.has(id));
    addOptionGroup(select, "其他身份（手动输入）", custom.map((id) => ({ value: id, text: id })));

    select.value = state.currentUser;
    if (select.value !== state.currentUser) select.value = "";
  }

  async function loadUsers() {
    try {
      const result = await fetchJson("/sim/api/users");
      if (!result.ok) throw new Error(describeDetail(result));
      const users = (result.body && Array.isArray(result.body.users)) ? result.body.users : [];
      state.users = users.filter((u) => u && typeof u.id === "string" && u.id);
    } catch (err) {
      setStatus(`无法加载用户列表：${err.message || err}（仍可用“以其他身份”输入用户 ID）`, true);
    }
    const ids = new Set([...state.users.map((u) => u.id), ...state.customIds]);
    if (!ids.has(state.currentUser)) state.currentUser = state.users.length ? state.users[0].id : "";
    renderUserSelect();
    selectUser(state.currentUser);
  }

  function selectUser(id) {
    state.currentUser = id;
    state.el.userSelect.value = id;
    state.el.currentUser.textContent = id ? `当前身份：${userLabel(id)}` : "未选择身份";
    state.el.currentUser.title = id;
    saveStorage();
    renderMessages();
    renderOutbox(true);
    updateSendButton();
  }

  function useCustomUser(event) {
    event.preventDefault();
    const id = state.el.customInput.value.trim();
    if (!id) {
      setStatus("请输入用户 ID", true);
      return;
    }
    if (/\s/.test(id) || id.length > 64) {
      setStatus("用户 ID 不能包含空格，且不超过 64 个字符", true);
      return;
    }
    const listed = state.users.some((u) => u.id === id);
    if (!listed && !state.customIds.includes(id)) state.customIds.push(id);
    state.el.customInput.value = "";
    renderUserSelect();
    selectUser(id);
    setStatus(`已切换为 ${id}`);
    state.el.input.focus();
  }

  // ---------- chat ----------

  function historyOf(id) {
    if (!Array.isArray(state.histories[id])) state.histories[id] = [];
    return state.histories[id];
  }

  function makeMessageEl(msg) {
    const kind = ["user", "bot", "error", "note"].includes(msg.kind) ? msg.kind : "bot";
    const item = makeEl("li", `msg msg-${kind}`);
    item.dataset.kind = kind;
    const bubble = makeEl("div", "bubble", msg.text);
    for (const url of Array.isArray(msg.images) ? msg.images : []) bubble.appendChild(makeImageEl(url));
    item.appendChild(bubble);
    item.appendChild(makeEl("time", "msg-time", formatTime(msg.at)));
    return item;
  }

  function makeImageEl(url) {
    // Only the app's own image URLs are shown; the simulator keeps the last few pictures in memory.
    const link = makeEl("a", "msg-image-link");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    const img = makeEl("img", "msg-image");
    img.src = url;
    img.alt = "机器人发送的图片";
    img.loading = "lazy";
    img.addEventListener("error", () => link.replaceWith(makeEl("span", "msg-image-gone", "（图片已过期）")));
    link.appendChild(img);
    return link;
  }

  function scrollToBottom(list) {
    list.scrollTop = list.scrollHeight;
  }

  function renderMessages() {
    const list = state.el.messages;
    list.replaceChildren();
    const history = state.histories[state.currentUser] || [];
    // Shown by CSS (:empty::before) so the list holds only real messages.
    list.dataset.empty = state.currentUser
      ? "还没有对话。发送“帮助”查看机器人支持的指令。"
      : "请先在上方选择身份。";
    for (const msg of history) list.appendChild(makeMessageEl(msg));
    scrollToBottom(list);
  }

  function appendMessage(userId, kind, text, images = []) {
    const msg = { kind, text: String(text), at: new Date().toISOString() };
    if (images.length) msg.images = images;
    const history = historyOf(userId);
    history.push(msg);
    if (history.length > MAX_HISTORY) history.splice(0, history.length - MAX_HISTORY);
    saveStorage();
    if (userId !== state.currentUser) return;
    const list = state.el.messages;
    list.appendChild(makeMessageEl(msg));
    scrollToBottom(list);
  }

  function clearHistory() {
    const id = state.currentUser;
    if (!id) return;
    if (!window.confirm(`确定清空“${userLabel(id)}”在本页的对话记录？（不影响机器人数据）`)) return;
    delete state.histories[id];
    saveStorage();
    renderMessages();
  }

  function updateSendButton() {
    state.el.send.disabled = state.sending || !state.currentUser;
    state.el.send.textContent = state.sending ? "发送中…" : "发送";
  }

  function setSending(sending) {
    state.sending = sending;
    updateSendButton();
  }

  async function postMessage(userId, text) {
    try {
      const result = await fetchJson("/sim/api/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user: userId, text }),
      }, SEND_TIMEOUT_MS);
      if (!result.ok) return { error: describeDetail(result) };
      const replies = result.body && Array.isArray(result.body.replies) ? result.body.replies : null;
      if (!replies) return { error: "服务器返回的数据格式不正确" };
      const images = Array.isArray(result.body.images)
        ? result.body.images.filter((u) => typeof u === "string" && u.startsWith("/sim/api/images/"))
        : [];
      return { replies, images };
    } catch (err) {
      return { error: describeNetworkError(err) };
    }
  }

  async function sendMessage() {
    if (state.sending) return;
    const userId = state.currentUser;
    const text = state.el.input.value.trim();
    if (!userId) {
      setStatus("请先选择身份", true);
      return;
    }
    if (!text) return;

    appendMessage(userId, "user", text);
    state.el.input.value = "";
    setSending(true);
    setStatus("正在等待机器人回复…");

    const result = await postMessage(userId, text);
    if (result.error) {
      appendMessage(userId, "error", result.error);
      setStatus("发送失败", true);
    } else {
      const replies = result.replies.filter((r) => r !== null && r !== undefined && String(r) !== "");
      if (!replies.length) appendMessage(userId, "note", "（机器人没有回复）");
      replies.forEach((reply, index) => {
        appendMessage(userId, "bot", reply, index === replies.length - 1 ? result.images : []);
      });
      setStatus("");
    }

    setSending(false);
    pollOutbox();
    if (userId === state.currentUser) state.el.input.focus();
  }

  // A file or picture, with the text in the input as its caption: answered like a message.
  async function sendFile() {
    const file = state.el.file.files && state.el.file.files[0];
    state.el.file.value = "";
    const userId = state.currentUser;
    if (!file || state.sending) return;
    if (!userId) {
      setStatus("请先选择身份", true);
      return;
    }
    const caption = state.el.input.value.trim();
    appendMessage(userId, "user", `📎 ${file.name}${caption ? "\n" + caption : ""}`);
    state.el.input.value = "";
    setSending(true);
    setStatus("正在上传文件…");
    const form = new FormData();
    form.append("user", userId);
    form.append("text", caption);
    form.append("file", file);
    try {
      const result = await fetchJson("/sim/api/files", { method: "POST", body: form }, SEND_TIMEOUT_MS);
      if (!result.ok) {
        appendMessage(userId, "error", describeDetail(result));
        setStatus("发送失败", true);
      } else {
        (result.body.replies || []).forEach((reply) => appendMessage(userId, "bot", reply));
        setStatus("");
      }
    } catch (err) {
      appendMessage(userId, "error", describeNetworkError(err));
      setStatus("发送失败", true);
    }
    setSending(false);
  }

  function onComposerKeydown(event) {
    // Enter sends; Shift+Enter inserts a newline. Never send while an IME is composing.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    sendMessage();
  }

  function insertIntoInput(text) {
    const input = state.el.input;
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? input.value.length;
    const before = input.value.slice(0, start);
    const needsBreak = before && !before.endsWith("\n") && text.includes("\n");
    const insert = (needsBreak ? "\n" : "") + text;
    input.setRangeText(insert, start, end, "end");
    // For templates such as 登记, put the caret after the first "：" so the user can type straight away.
    const colon = insert.indexOf("：\n");
    if (colon >= 0) {
      const caret = start + colon + 1;
      input.setSelectionRange(caret, caret);
    }
    input.focus();
  }

  function onChipClick(event) {
    const chip = event.target.closest("[data-insert]");
    if (chip) insertIntoInput(chip.dataset.insert);
  }

  // ---------- outbox ----------

  function makeOutboxEl(item) {
    const to = item && item.to != null ? String(item.to) : "";
    const mine = Boolean(state.currentUser) && to === state.currentUser;
    const li = makeEl("li", mine ? "outbox-item is-mine" : "outbox-item");
    const meta = makeEl("div", "outbox-meta");
    const label = item && item.label ? String(item.label) : to;
    const toEl = makeEl("span", "outbox-to", `发给：${label || "（未知）"}`);
    if (mine) toEl.appendChild(makeEl("span", "outbox-mine-tag", "（当前身份）"));
    meta.appendChild(toEl);
    meta.appendChild(makeEl("time", "outbox-time", formatTime(item && item.at)));
    li.appendChild(meta);
    li.appendChild(makeEl("div", "outbox-text", item && item.text != null ? String(item.text) : ""));
    return li;
  }

  function renderOutbox(force = false) {
    const sig = `${state.currentUser}\u0000${JSON.stringify(state.outbox)}`;
    if (!force && sig === state.outboxSig) return;
    state.outboxSig = sig;

    const list = state.el.outbox;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren();
    list.dataset.empty = "暂无发出的消息。";
    for (const item of state.outbox.slice(-MAX_OUTBOX_SHOWN)) list.appendChild(makeOutboxEl(item));
    if (atBottom) scrollToBottom(list);
  }

  function setOutboxStatus(text, isError = false) {
    state.el.outboxStatus.textContent = text;
    state.el.outboxStatus.classList.toggle("is-error", isError);
  }

  async function pollOutbox() {
    clearTimeout(state.pollTimer);
    try {
      const result = await fetchJson("/sim/api/outbox");
      if (!result.ok) throw new Error(describeDetail(result));
      state.outbox = Array.isArray(result.body) ? result.body : [];
      renderOutbox();
      setOutboxStatus(`共 ${state.outbox.length} 条 · ${formatTime(new Date()).slice(6)} 更新`);
    } catch (err) {
      setOutboxStatus(`刷新失败：${err.name === "AbortError" ? "超时" : err.message || err}`, true);
    } finally {
      clearTimeout(state.pollTimer);
      if (!document.hidden) state.pollTimer = setTimeout(pollOutbox, POLL_MS);
    }
  }

  function onVisibilityChange() {
    if (document.hidden) clearTimeout(state.pollTimer);
    else pollOutbox();
  }

  // ---------- wiring ----------

  function bindElements() {
    const byId = (id) => document.getElementById(id);
    state.el = {
      userSelect: byId("user-select"),
      customForm: byId("custom-user-form"),
      customInput: byId("custom-user-input"),
      currentUser: byId("current-user"),
      clear: byId("clear-history"),
      messages: byId("message-list"),
      chips: document.querySelector(".chips"),
      composer: byId("composer"),
      input: byId("message-input"),
      send: byId("send-button"),
      file: byId("file-input"),
      status: byId("status"),
      outbox: byId("outbox-list"),
      outboxStatus: byId("outbox-status"),
    };
  }

  function bindEvents() {
    const { el } = state;
    el.userSelect.addEventListener("change", () => selectUser(el.userSelect.value));
    el.customForm.addEventListener("submit", useCustomUser);
    el.clear.addEventListener("click", clearHistory);
    el.chips.addEventListener("click", onChipClick);
    el.composer.addEventListener("submit", (event) => { event.preventDefault(); sendMessage(); });
    el.input.addEventListener("keydown", onComposerKeydown);
    el.file.addEventListener("change", sendFile);
    document.addEventListener("visibilitychange", onVisibilityChange);
  }

  function init() {
    bindElements();
    loadStorage();
    bindEvents();
    updateSendButton();
    renderMessages();
    renderOutbox(true);
    loadUsers();
    pollOutbox();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
