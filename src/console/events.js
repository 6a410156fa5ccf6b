// Event types in plain words, grouped as the integration form shows them, and each type's
// sample body as the Test send builds it (the service's src/payload/samples.rs).

export const EVENT_GROUPS = [
  ["Rewards", [["reward.instant", "A creator earns a reward (instant rule)"], ["reward.monthly", "A creator earns a monthly reward"]]],
  ["Programs", [["program.signed_up", "A creator signs up for a program"], ["program.approved", "A creator is approved"],
    ["program.rejected", "A creator is rejected"], ["program.removed", "A creator is removed from a program"]]],
  ["Posts", [["post.tagged", "A creator tags you in a post"]]],
  ["Sales", [["sale.created", "A creator's storefront makes a sale"]]],
];

export const EVENT_LABELS = Object.fromEntries(EVENT_GROUPS.flatMap(([, types]) => types));

export const DEFAULT_EVENT_TYPES = ["reward.instant", "reward.monthly"];

export function eventLabel(t) { return EVENT_LABELS[t] || t || "—"; }

// Whether a type's body carries `discountCode` and the posts (rewards and post.tagged).
export function hasPosts(t) { return t === "reward.instant" || t === "reward.monthly" || t === "post.tagged"; }

// What a program or sale event carries after the creator keys, as the Test send's sample.
export function sampleAbout(t) {
  if (t.startsWith("program.")) return { program: { lcId: "ABC123", name: "Summer creators" } };
  if (t === "sale.created") {
    return { sale: { lcId: "ABC123", orderId: "order-1001", amount: "12.50", currency: "USD", soldAt: "2022-04-12T11:18:20.902164" } };
  }
  return {};
}
