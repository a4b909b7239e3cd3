// The node bar: one chip per gateway or sensor, online or offline, updated live.

import { $, el } from "./dom.js";

export const NodeBar = {
  nodes: new Map(),

  set(node) {
    const key = `${node.site}/${node.node}`;
    NodeBar.nodes.set(key, { ...(NodeBar.nodes.get(key) || {}), ...node });
    NodeBar.render();
  },

  replace(nodes) {
    NodeBar.nodes.clear();
    for (const n of nodes) NodeBar.set(n);
    NodeBar.render();
  },

  render() {
    const nodes = [...NodeBar.nodes.values()].sort((a, b) => a.node.localeCompare(b.node));
    $("nodes").replaceChildren(...nodes.map((n) => {
      const state = n.state || "unknown";
      return el("li", {
        class: "node",
        dataset: { node: n.node, state },
        title: `${n.role || "node"} ${n.node}: ${state}`,
      }, el("span", { class: "dot", "aria-hidden": "true" }), el("span", { text: n.node }),
      el("span", { class: "state", text: state }));
    }));
  },
};
