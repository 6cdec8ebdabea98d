// Short answers without a model: which kind of answer a question wants, and how an answer is cleaned for display.
// The grammars themselves are exercised against llama.cpp in test/integration/one-shot.test.ts.
import { describe, expect, it } from 'vitest';
import {
  AMOUNT_GRAMMAR,
  COUNT_GRAMMAR,
  normalizeShort,
  shortQuestion,
  YES_NO_GRAMMAR,
} from '../../electron/engine/chat/short-answer.ts';

describe('shortQuestion', () => {
  it.each([
    'Is there a dog?',
    'are these receipts',
    'Was it taken at night?',
    'Do you see a car?',
    'Does the photo show a beach?',
    'Did someone smile?',
    'Can you read the sign?',
    'Could this be Paris?',
    'Will it rain?',
    'Would you call this a sunset?',
    'Should I keep it?',
    'Has the cake been cut?',
    'Have the lights been switched on?',
    'Had it snowed?',
    'May I see a cat here?',
    'Might this be a receipt?',
    'Must it be a screenshot?',
    'Shall we say it is a dog?',
    "Isn't it a cat?",
    'Doesn’t it look blurry?',
    "Won't it fall?",
    'Please, is this a receipt?',
    '  IS   THIS A DOCUMENT  ',
  ])('%s → yes-no', (q) => {
    const s = shortQuestion(q);
    expect(s.kind).toBe('yes-no');
    expect(s.grammar).toBe(YES_NO_GRAMMAR);
    expect(s.prompt).toMatch(/Answer the question with yes or no\.$/);
  });

  it.each([
    'How many people are there?',
    'how much does it cost?',
    'What number is on the door?',
    'Count the cars.',
    'Can you count the birds?',
    'Is there a way to tell how many windows it has?',
    'What is the number of chairs?',
  ])('%s → number', (q) => {
    const s = shortQuestion(q);
    expect(s.kind).toBe('number');
    // an amount may have decimals (a price); a count may not
    expect(s.grammar).toBe(/how much/i.test(q) ? AMOUNT_GRAMMAR : COUNT_GRAMMAR);
  });

  it.each([
    'What colour is the car?',
    'Where was this taken?',
    'Who is in the picture?',
    'Is it red or blue?', // a choice, not yes or no
    'Island or mountain?', // "Is" only as part of a word
    'Dogs?',
    'Hasty conclusions?',
  ])('%s → phrase', (q) => {
    const s = shortQuestion(q);
    expect(s.kind).toBe('phrase');
    expect(s.grammar).toBeNull();
    expect(s.prompt).toMatch(/Answer the question using a single word or phrase\.$/);
  });

  it('keeps the question itself in the prompt, spaces collapsed, and gives each kind a small budget', () => {
    const s = shortQuestion('  Is   there\na dog?  ');
    expect(s.prompt.startsWith('Is there a dog?\n')).toBe(true);
    expect(shortQuestion('Is it?').maxTokens).toBeLessThanOrEqual(4);
    expect(shortQuestion('How many?').maxTokens).toBeLessThanOrEqual(10);
    expect(shortQuestion('What?').maxTokens).toBeLessThanOrEqual(20);
  });

  it('refuses an empty question', () => {
    expect(() => shortQuestion('   ')).toThrow(/needs a question/);
  });
});

describe('normalizeShort', () => {
  it.each([
    [' Yes', 'yes'],
    ['No.', 'no'],
    ['YES!', 'yes'],
    ['"no"', 'no'],
    ['Yes, there is a dog.\nIt is brown.', 'yes'],
    ['\n\n no', 'no'],
    ['Maybe', 'maybe'], // not a yes or no (no grammar held it): shown as said, not invented
  ])('yes-no %j → %j', (text, want) => {
    expect(normalizeShort('yes-no', text)).toBe(want);
  });

  it.each([
    [' 3', '3'],
    ['008068', '8068'],
    ['0', '0'],
    ['There are 12 people.', '12'],
    ['1,234', '1234'],
    ['12.50', '12.5'],
    ['7.00', '7'],
    ['three', '3'],
    ['A dozen eggs', '12'],
    ['None.', '0'],
    ['many', 'many'],
  ])('number %j → %j', (text, want) => {
    expect(normalizeShort('number', text)).toBe(want);
  });

  it('a phrase: first line, one space between words, no trailing period, bounded', () => {
    expect(normalizeShort('phrase', '  A red   bicycle.\nIt is parked.')).toBe('A red bicycle');
    expect(normalizeShort('phrase', '')).toBe('');
    const long = normalizeShort('phrase', 'word '.repeat(100));
    expect(long.length).toBeLessThanOrEqual(100);
    expect(long.endsWith('…')).toBe(true);
  });
});
