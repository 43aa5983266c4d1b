// DOM building without markup strings: every text goes in through textContent, so a series
// id (user input) can never become markup. Nothing in this page parses HTML from data.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'open']);
const SVG_NS = 'http://www.w3.org/2000/svg';

// h('a', {href: '#/jobs', testid: 'nav-jobs', onclick: fn}, 'Jobs')
// testid -> data-testid; dataset -> data-*; on<event> -> listener; class -> className.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs, false);
  append(node, children);
  return node;
}

// The same for SVG elements (every attribute set as an attribute).
export function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attrs, true);
  append(node, children);
  return node;
}

function setAttributes(node, attrs, svg) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      node.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (key === 'testid') {
      node.setAttribute('data-testid', value);
    } else if (key === 'dataset') {
      for (const [name, v] of Object.entries(value)) {
        if (v !== null && v !== undefined) node.dataset[name] = String(v);
      }
    } else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (!svg && PROPERTIES.has(key)) {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

// Strings and numbers become text nodes; arrays are flattened; null/false/undefined skipped.
export function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
  return node;
}

export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export function byTestId(root, testid) {
  return root.querySelector(`[data-testid="${testid}"]`);
}
