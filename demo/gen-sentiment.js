#!/usr/bin/env node
// gen-sentiment.js — writes demo/sentiment.jsonl, the small labelled text set that the
// mlbackend tests train on and that `make run` seeds the demo project with.
//
// Sentences are review-style (products, films, restaurants, hotels, apps) and come from
// hand-written templates filled with hand-written vocabulary. A fixed-seed PRNG
// (mulberry32) makes the output byte-for-byte reproducible:
//
//   node demo/gen-sentiment.js > demo/sentiment.jsonl
//
// Each line is {"text": "...", "label": "Positive|Negative|Neutral"}. The set is meant to
// be hard enough that a held-out accuracy means something: some templates carry negation
// ("not bad at all", "not worth it"), contrast ("expected to hate it, but ..."), mixed
// opinions labelled Neutral, and vocabulary shared between classes. The classifier tests
// use a fixed split: every 5th line (0-based index % 5 == 4) is held out for testing.
'use strict';

function mulberry32(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(20261128);
const pick = (a) => a[Math.floor(rand() * a.length)];

// Subjects with the aspects a reviewer would talk about.
const subjects = [
  { s: ['headphones', 'earbuds', 'speaker'], a: ['sound', 'bass', 'battery life', 'fit', 'noise cancelling'] },
  { s: ['laptop', 'tablet', 'phone', 'smartwatch'], a: ['screen', 'battery', 'keyboard', 'camera', 'performance'] },
  { s: ['coffee maker', 'blender', 'vacuum', 'air fryer', 'kettle'], a: ['build quality', 'motor', 'design', 'cleanup', 'price'] },
  { s: ['backpack', 'jacket', 'pair of boots', 'tent'], a: ['material', 'stitching', 'zippers', 'comfort', 'waterproofing'] },
  { s: ['movie', 'film', 'sequel', 'documentary', 'series'], a: ['plot', 'acting', 'soundtrack', 'pacing', 'ending', 'dialogue'] },
  { s: ['restaurant', 'ramen place', 'bistro', 'pizzeria', 'cafe', 'steakhouse'], a: ['food', 'service', 'atmosphere', 'menu', 'portions', 'dessert'] },
  { s: ['hotel', 'hostel', 'resort', 'guesthouse'], a: ['room', 'staff', 'breakfast', 'location', 'bed', 'wifi'] },
  { s: ['app', 'game', 'website', 'editor'], a: ['interface', 'update', 'support', 'loading time', 'features'] },
];

const posAdj = ['excellent', 'fantastic', 'wonderful', 'superb', 'brilliant', 'outstanding', 'great', 'lovely', 'amazing', 'delightful', 'impressive', 'perfect'];
const negAdj = ['terrible', 'awful', 'horrible', 'disappointing', 'dreadful', 'poor', 'useless', 'mediocre at best', 'frustrating', 'cheap', 'broken', 'lousy'];
const neuAdj = ['okay', 'average', 'fine', 'acceptable', 'standard', 'decent enough', 'ordinary', 'adequate', 'as expected', 'so-so'];
const posVerb = ['love', 'adore', 'really enjoy', 'am thrilled with', 'am very happy with'];
const negVerb = ['hate', 'regret buying', 'am fed up with', 'am very unhappy with', 'cannot stand'];
const times = ['two days', 'a week', 'three weeks', 'a month', 'one use', 'an hour'];
const days = ['Monday', 'Tuesday', 'Thursday', 'Friday', 'the weekend'];
const who = ['My wife', 'My brother', 'A friend', 'My colleague', 'My daughter', 'Our neighbour'];

const templates = {
  Positive: [
    (x) => `I ${pick(posVerb)} this ${x.s}, the ${x.a} is ${pick(posAdj)}.`,
    (x) => `${cap(pick(posAdj))} ${x.s}! Would definitely recommend it to anyone.`,
    (x) => `The ${x.a} exceeded my expectations, ${pick(posAdj)} value.`,
    (x) => `Best ${x.s} I have tried in years, the ${x.a} is simply ${pick(posAdj)}.`,
    (x) => `Five stars. The ${x.a} was ${pick(posAdj)} and everything just works.`,
    (x) => `Not bad at all, honestly the ${x.a} is ${pick(posAdj)}.`,
    (x) => `I expected to hate this ${x.s}, but it turned out ${pick(posAdj)}.`,
    (x) => `${pick(who)} recommended this ${x.s} and I am so glad, the ${x.a} is ${pick(posAdj)}.`,
    (x) => `Worth every penny: ${pick(posAdj)} ${x.a} and a ${pick(posAdj)} experience overall.`,
    (x) => `Can't complain about anything, the ${x.a} is ${pick(posAdj)}. Will come back for more.`,
    (x) => `What a ${pick(posAdj)} ${x.s}. Highly recommended!`,
    (x) => `Really happy with the ${x.a}; this ${x.s} made my week.`,
    (x) => `The ${x.a} is a bit ${pick(negAdj)}, but the ${pick(x.aa)} is ${pick(posAdj)}.`,
    (x) => `The ${x.a} is not ${pick(negAdj)} at all.`,
    (x) => `The ${x.a} could be ${pick(neuAdj)}, but in fact it is ${pick(posAdj)}.`,
  ],
  Negative: [
    (x) => `I ${pick(negVerb)} this ${x.s}, the ${x.a} is ${pick(negAdj)}.`,
    (x) => `The ${x.s} broke after ${pick(times)}, total waste of money.`,
    (x) => `${cap(pick(negAdj))} ${x.a}. I want a refund.`,
    (x) => `Worst ${x.s} I have ever had, the ${x.a} was ${pick(negAdj)}.`,
    (x) => `One star. The ${x.a} is ${pick(negAdj)} and nobody answered my complaint.`,
    (x) => `Not worth the money, the ${x.a} is ${pick(negAdj)}.`,
    (x) => `I wanted to like this ${x.s}, but the ${x.a} is ${pick(negAdj)}.`,
    (x) => `${pick(who)} warned me about this ${x.s} and sadly they were right: ${pick(negAdj)} ${x.a}.`,
    (x) => `Avoid this ${x.s}. ${cap(pick(negAdj))} ${x.a} and a ${pick(negAdj)} experience overall.`,
    (x) => `Never again. The ${x.a} ruined the whole thing.`,
    (x) => `Do not buy this ${x.s}, it stopped working after ${pick(times)}.`,
    (x) => `Really disappointed with the ${x.a}; this ${x.s} ruined my week.`,
    (x) => `The ${x.a} is ${pick(posAdj)}, but the ${pick(x.aa)} is ${pick(negAdj)}.`,
    (x) => `Honestly the ${x.a} is not ${pick(posAdj)}.`,
    (x) => `The ${x.a} could be ${pick(neuAdj)}, but in fact it is ${pick(negAdj)}.`,
  ],
  Neutral: [
    (x) => `The ${x.s} arrived on ${pick(days)}; it does what the description says.`,
    (x) => `It is an ${pick(['average', 'ordinary'])} ${x.s}, nothing special but nothing wrong either.`,
    (x) => `The ${x.a} is ${pick(neuAdj)}, neither great nor terrible.`,
    (x) => `The ${x.a} is ${pick(posAdj)} and the ${pick(x.aa)} is ${pick(negAdj)}.`,
    (x) => `The ${x.a} is not ${pick(posAdj)}, but not ${pick(negAdj)} either.`,
    (x) => `Some things I like, some I don't; the ${x.a} is ${pick(neuAdj)}.`,
    (x) => `I used the ${x.s} for ${pick(times)} and I have no strong opinion yet.`,
    (x) => `${pick(who)} bought the same ${x.s}. The ${x.a} is ${pick(neuAdj)} for the price.`,
    (x) => `Three stars. The ${x.a} is ${pick(neuAdj)}, it is what it is.`,
    (x) => `It's a ${x.s}. The ${x.a} works as described, no surprises.`,
    (x) => `Mixed feelings: ${pick(posAdj)} ${x.a}, ${pick(negAdj)} ${pick(x.aa)}.`,
    (x) => `Does the job. The ${x.a} is ${pick(neuAdj)} and the rest is ${pick(neuAdj)} too.`,
    (x) => `Not sure yet what I think of the ${x.a}, ask me again in ${pick(times)}.`,
  ],
};

const openers = ['Bought this {s} last month.', 'Update after a week:', 'Quick review of the {s}.',
  'We tried the {s} on a Saturday.', 'Long story short:', 'First time writing a review.'];
const closers = ['Delivery was on time.', 'Price was around fifty dollars.', 'Just my two cents.',
  'I might post an update later.', 'Used it with my family.'];

function cap(s) { return s[0].toUpperCase() + s.slice(1); }

const perClass = 170;
const seen = new Set();
const rows = [];
for (const label of ['Positive', 'Negative', 'Neutral']) {
  let made = 0, tries = 0;
  while (made < perClass && tries < 100000) {
    tries++;
    const subj = pick(subjects);
    const x = { s: pick(subj.s), a: pick(subj.a), aa: subj.a };
    let text = pick(templates[label])(x);
    // Openers and closers that say nothing about sentiment, shared by every class.
    if (rand() < 0.3) text = `${pick(openers).replace('{s}', x.s)} ${text}`;
    if (rand() < 0.2) text = `${text} ${pick(closers)}`;
    if (seen.has(text)) continue;
    seen.add(text);
    rows.push({ text, label });
    made++;
  }
}
// Deterministic Fisher-Yates shuffle so classes interleave and the split is stratified
// only by chance, as a real annotation queue would be.
for (let i = rows.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [rows[i], rows[j]] = [rows[j], rows[i]];
}
process.stdout.write(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
