import { expectedModeration } from '@blog/testkit';

test.each([
  ['I like orange juice', 'rejected'],
  ['ORANGE', 'rejected'],
  ['an Orangery', 'rejected'],
  ['I like apples', 'approved'],
  ['or ange', 'approved'],
  ['', 'approved'],
])('"%s" is %s', (content, outcome) => {
  expect(expectedModeration(content)).toBe(outcome);
});
