/* Question widgets of the annotation form that need more than radios and checkboxes.
 * (Loaded from our origin; the CSP forbids inline script.  No dependencies.)
 *
 * Span questions ([data-span-question]): the text is shown in [data-span-text]; select a part
 * with the mouse, or with the keyboard (←/→ move by word, Shift+←/→ extend), then press the
 * label's digit (or click the label) to mark it.  A click on a mark, or Backspace on a selection
 * touching marks, removes them.  Spans are kept as JSON in the hidden [data-span-value] input, with
 * offsets in Unicode code points (what the server counts), not UTF-16 units (what JS counts).
 *
 * Ranking questions ([data-ranking]): ↑/↓ move the focus, Shift+↑/↓ (or the ▲▼ buttons) move the
 * focused option, a digit N puts it at place N, Space (or "Accept this order") accepts the order.
 * One hidden q.<name> per option, in order, is written once the order has been touched.
 */
(function () {
  "use strict";

  /* ------------------------------------------------------------ spans */
  var WORD = /[\p{L}\p{N}\p{M}_'\u2019-]+|[^\s]/gu;

  function SpanWidget(root) {
    this.root = root;
    this.box = root.querySelector("[data-span-text]");
    this.input = root.querySelector("[data-span-value]");
    this.list = root.querySelector("[data-span-list]");
    this.overlap = root.getAttribute("data-allow-overlap") === "true";
    var source = this.box.getAttribute("data-span-source");
    this.text = source ? JSON.parse(source) : this.box.textContent;
    this.chars = Array.from(this.text);  // one entry per code point
    this.u16 = [0];                       // code point offset -> UTF-16 offset
    for (var i = 0; i < this.chars.length; i++) { this.u16.push(this.u16[i] + this.chars[i].length); }
    this.tokens = [];
    var match;
    WORD.lastIndex = 0;
    while ((match = WORD.exec(this.text)) !== null) {
      this.tokens.push({ start: this.cp(match.index), end: this.cp(match.index + match[0].length) });
    }
    try { this.spans = JSON.parse(this.input.value || "[]"); } catch (e) { this.spans = []; }
    this.anchor = -1;
    this.focus = -1;
    this.selection = null;
    this.colours = {};
    var self = this;
    root.querySelectorAll("[data-span-label]").forEach(function (button) {
      self.colours[button.getAttribute("data-span-label")] = button.getAttribute("data-span-colour");
      button.addEventListener("click", function () { self.label(button.getAttribute("data-span-label")); self.box.focus(); });
    });
    this.box.addEventListener("keydown", function (event) { self.onKey(event); });
    this.box.addEventListener("mouseup", function (event) { self.onMouseUp(event); });
    this.list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-span-remove]");
      if (button) { self.remove([Number(button.getAttribute("data-span-remove"))]); }
    });
    this.render();
  }

  SpanWidget.prototype.cp = function (u16offset) {
    var low = 0, high = this.u16.length - 1;  // binary search: the code point starting at / before it
    while (low < high) {
      var mid = (low + high + 1) >> 1;
      if (this.u16[mid] <= u16offset) { low = mid; } else { high = mid - 1; }
    }
    return low;
  };

  SpanWidget.prototype.slice = function (start, end) { return this.chars.slice(start, end).join(""); };

  SpanWidget.prototype.trimmed = function (start, end) {
    while (start < end && /\s/.test(this.chars[start])) { start++; }
    while (end > start && /\s/.test(this.chars[end - 1])) { end--; }
    while (end < this.chars.length && /[\p{M}\uFE00-\uFE0F\u200D]/u.test(this.chars[end])) { end++; }  // keep marks with their letter
    return end > start ? { start: start, end: end } : null;
  };

  SpanWidget.prototype.keySelection = function () {
    if (this.focus < 0) { return null; }
    var a = this.tokens[Math.min(this.anchor, this.focus)], b = this.tokens[Math.max(this.anchor, this.focus)];
    return { start: a.start, end: b.end };
  };

  SpanWidget.prototype.onKey = function (event) {
    var key = event.key;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (key === "ArrowRight" || key === "ArrowLeft") {
      event.preventDefault();  // not "next / previous record" while marking
      if (!this.tokens.length) { return; }
      var step = key === "ArrowRight" ? 1 : -1;
      var next = this.focus < 0 ? (step > 0 ? 0 : this.tokens.length - 1) : Math.max(0, Math.min(this.tokens.length - 1, this.focus + step));
      this.focus = next;
      if (!event.shiftKey || this.anchor < 0) { this.anchor = next; }
      this.selection = this.keySelection();
      this.render();
    } else if (/^[1-9]$/.test(key)) {
      var button = this.root.querySelector('[data-span-hotkey="' + key + '"]');
      event.preventDefault();
      if (button) { this.label(button.getAttribute("data-span-label")); }
    } else if (key === "Backspace" || key === "Delete") {
      event.preventDefault();  // never "discard the record" from inside the text
      var sel = this.selection;
      if (!sel) { return; }
      var hit = [];
      this.spans.forEach(function (span, i) { if (span.start < sel.end && sel.start < span.end) { hit.push(i); } });
      this.remove(hit);
    } else if (key === "Escape") {
      this.selection = null; this.anchor = this.focus = -1; this.render(); this.box.blur();
    }
  };

  SpanWidget.prototype.offsetOf = function (node, offset) {
    if (node === this.box) {
      var child = this.box.childNodes[offset];
      return child ? Number(child.getAttribute("data-s")) : this.chars.length;
    }
    var segment = node.nodeType === 3 ? node.parentElement : node;
    segment = segment && segment.closest ? segment.closest("[data-s]") : null;
    if (!segment || !this.box.contains(segment)) { return null; }
    var start = Number(segment.getAttribute("data-s"));
    if (node.nodeType !== 3) { return offset === 0 ? start : Number(segment.getAttribute("data-e")); }
    return start + Array.from(node.textContent.slice(0, offset)).length;
  };

  SpanWidget.prototype.onMouseUp = function (event) {
    var native = window.getSelection();
    if (!native || native.rangeCount === 0 || native.isCollapsed) {
      var mark = event.target.closest ? event.target.closest("[data-spans]") : null;
      if (mark && this.box.contains(mark)) {  // a click on a mark removes the shortest span under it
        var ids = mark.getAttribute("data-spans").split(",").map(Number), spans = this.spans;
        ids.sort(function (a, b) { return (spans[a].end - spans[a].start) - (spans[b].end - spans[b].start); });
        this.remove([ids[0]]);
      }
      return;
    }
    var range = native.getRangeAt(0);
    var start = this.offsetOf(range.startContainer, range.startOffset), end = this.offsetOf(range.endContainer, range.endOffset);
    if (start === null || end === null) { return; }
    this.selection = this.trimmed(Math.min(start, end), Math.max(start, end));
    this.anchor = this.focus = -1;
    native.removeAllRanges();
    this.render();
  };

  SpanWidget.prototype.label = function (label) {
    var sel = this.selection;
    if (!sel || !label) { return; }
    var overlap = this.overlap;
    this.spans = this.spans.filter(function (span) {
      var same = span.start === sel.start && span.end === sel.end;
      var crosses = span.start < sel.end && sel.start < span.end;
      return overlap ? !(same && span.label === label) : !crosses;
    });
    this.spans.push({ start: sel.start, end: sel.end, label: label });
    this.changed();
  };

  SpanWidget.prototype.remove = function (indexes) {
    if (!indexes.length) { return; }
    this.spans = this.spans.filter(function (_, i) { return indexes.indexOf(i) === -1; });
    this.changed();
  };

  SpanWidget.prototype.changed = function () {
    this.spans.sort(function (a, b) { return a.start - b.start || a.end - b.end || (a.label < b.label ? -1 : 1); });
    this.input.value = JSON.stringify(this.spans.map(function (s) { return { start: s.start, end: s.end, label: s.label }; }));
    this.render();
  };

  SpanWidget.prototype.render = function () {
    var bounds = [0, this.chars.length], self = this, sel = this.selection;
    this.spans.forEach(function (s) { bounds.push(s.start, s.end); });
    if (sel) { bounds.push(sel.start, sel.end); }
    bounds = bounds.filter(function (b, i) { return bounds.indexOf(b) === i && b >= 0 && b <= self.chars.length; });
    bounds.sort(function (a, b) { return a - b; });
    var fragment = document.createDocumentFragment();
    for (var i = 0; i + 1 < bounds.length; i++) {
      var start = bounds[i], end = bounds[i + 1];
      var element = document.createElement("span");
      element.setAttribute("data-s", String(start));
      element.setAttribute("data-e", String(end));
      element.textContent = this.slice(start, end);
      var covering = [];
      this.spans.forEach(function (s, index) { if (s.start <= start && end <= s.end) { covering.push(index); } });
      if (covering.length) {
        var top = this.spans[covering[covering.length - 1]];
        element.className = "span-mark span-colour-" + (this.colours[top.label] || "0") + (covering.length > 1 ? " span-nested" : "");
        element.setAttribute("data-spans", covering.join(","));
        element.title = covering.map(function (index) { return self.spans[index].label; }).join(", ") + " (click to remove)";
      }
      if (sel && sel.start <= start && end <= sel.end) { element.className += " span-selected"; }
      fragment.appendChild(element);
    }
    this.box.replaceChildren(fragment);
    var items = document.createDocumentFragment();
    this.spans.forEach(function (span, index) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-ghost btn-sm span-chip span-colour-" + (self.colours[span.label] || "0");
      button.setAttribute("data-span-remove", String(index));
      button.setAttribute("aria-label", "Remove " + span.label + " " + self.slice(span.start, span.end));
      button.textContent = span.label + ": " + self.slice(span.start, span.end) + " ×";
      item.setAttribute("data-span", span.start + "-" + span.end + ":" + span.label);
      item.appendChild(button);
      items.appendChild(item);
    });
    this.list.replaceChildren(items);
  };

  /* ------------------------------------------------------------ rankings */
  function RankingWidget(root) {
    this.root = root;
    this.list = root.querySelector("[data-ranking-list]");
    this.inputs = root.querySelector("[data-ranking-inputs]");
    this.state = root.querySelector("[data-ranking-state]");
    this.name = root.getAttribute("data-ranking");
    var self = this;
    this.list.addEventListener("keydown", function (event) { self.onKey(event); });
    root.addEventListener("click", function (event) {
      var move = event.target.closest("[data-rank-move]");
      if (move) { self.move(move.closest("li"), Number(move.getAttribute("data-rank-move"))); }
      if (event.target.closest("[data-rank-accept]")) { self.accept(); }
    });
  }

  RankingWidget.prototype.items = function () { return Array.from(this.list.querySelectorAll("li[data-option]")); };

  RankingWidget.prototype.onKey = function (event) {
    var item = event.target.closest ? event.target.closest("li[data-option]") : null;
    if (!item || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var items = this.items(), at = items.indexOf(item), key = event.key;
    if (key === "ArrowUp" || key === "ArrowDown") {
      event.preventDefault();
      var step = key === "ArrowUp" ? -1 : 1;
      if (event.shiftKey) { this.move(item, step); } else if (items[at + step]) { items[at + step].focus(); }
    } else if (/^[1-9]$/.test(key)) {
      event.preventDefault();
      this.move(item, Math.min(Number(key), items.length) - 1 - at);
    } else if (key === " ") {
      event.preventDefault();
      this.accept();
    }
  };

  RankingWidget.prototype.move = function (item, step) {
    var items = this.items(), at = items.indexOf(item), to = Math.max(0, Math.min(items.length - 1, at + step));
    if (at < 0) { return; }
    if (to !== at) {
      var reference = to > at ? items[to].nextSibling : items[to];
      this.list.insertBefore(item, reference);
    }
    item.focus();
    this.accept();
  };

  RankingWidget.prototype.accept = function () {
    var fragment = document.createDocumentFragment(), name = this.name;
    this.items().forEach(function (item, index) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "q." + name;
      input.value = item.getAttribute("data-option");
      fragment.appendChild(input);
      var position = item.querySelector(".ranking-pos");
      if (position) { position.textContent = String(index + 1); }
    });
    this.inputs.replaceChildren(fragment);
    this.root.setAttribute("data-ranked", "true");
    if (this.state) { this.state.textContent = "ranked"; }
  };

  /* ------------------------------------------------------------ wiring */
  function init(scope) {
    if (!scope || !scope.querySelectorAll) { return; }
    scope.querySelectorAll("[data-span-question]:not([data-ready])").forEach(function (root) {
      root.setAttribute("data-ready", "");
      new SpanWidget(root);
    });
    scope.querySelectorAll("[data-ranking]:not([data-ready])").forEach(function (root) {
      root.setAttribute("data-ready", "");
      new RankingWidget(root);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail && event.detail.elt ? event.detail.elt.parentNode || document : document); });
})();
