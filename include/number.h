/* number.h: strict decimal numbers from text (config, state, manifest).
 * Only digits, no sign, no blanks, no trailing bytes, no overflow. */
#ifndef SLOTD_NUMBER_H
#define SLOTD_NUMBER_H

/* 0 and *out set when text is a decimal number <= max; -1 otherwise. */
int number_parse(const char *text, unsigned long long max, unsigned long long *out);

#endif
