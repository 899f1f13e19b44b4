/**
 * @file text.h
 * @brief Small text helpers shared by the stages that read people's parameters.
 */
#ifndef SS_TEXT_H
#define SS_TEXT_H

/**
 * Whether @p item is one of the comma-separated entries of @p list ("g,r,i"), compared whole and
 * case-sensitively; an empty entry matches an empty @p item.
 * @param list, item borrowed, NUL-terminated. @return 1 or 0.
 */
int ss_text_list_has(const char *list, const char *item);

#endif
