// SPDX-License-Identifier: GPL-2.0-only
/*
 * epoll loop.  Watches live in a list owned by the loop; a callback may remove any watch,
 * including its own, because removal only marks it dead until the current round is over.
 */
#include "common/evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct watch {
	int fd;
	bool dead;
	evloop_fn fn;
	void *opaque;
	struct watch *next;
};

struct evloop {
	int epfd;
	bool quit;
	struct watch *watches;
};

int evloop_new(struct evloop **ret)
{
	struct evloop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int r = -errno;

		free(loop);
		return r;
	}
	*ret = loop;
	return 0;
}

static void reap(struct evloop *loop)
{
	struct watch **pp = &loop->watches;

	while (*pp) {
		struct watch *w = *pp;

		if (w->dead) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

void evloop_free(struct evloop *loop)
{
	if (!loop)
		return;
	for (struct watch *w = loop->watches; w; w = w->next)
		w->dead = true;
	reap(loop);
	close(loop->epfd);
	free(loop);
}

static struct watch *find(struct evloop *loop, int fd)
{
	for (struct watch *w = loop->watches; w; w = w->next)
		if (w->fd == fd && !w->dead)
			return w;
	return NULL;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct watch *w;

	if (find(loop, fd))
		return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct watch){ .fd = fd, .fn = fn, .opaque = opaque, .next = loop->watches };
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		free(w);
		return r;
	}
	loop->watches = w;
	return 0;
}

int evloop_modify(struct evloop *loop, int fd, uint32_t events)
{
	struct watch *w = find(loop, fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void evloop_remove(struct evloop *loop, int fd)
{
	struct watch *w = find(loop, fd);

	if (!w)
		return;
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->dead = true;
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event events[16];

	while (!loop->quit) {
		int n = epoll_wait(loop->epfd, events, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->quit; i++) {
			struct watch *w = events[i].data.ptr;

			if (!w->dead)
				w->fn(loop, w->fd, events[i].events, w->opaque);
		}
		reap(loop);
	}
	return 0;
}

void evloop_quit(struct evloop *loop)
{
	loop->quit = true;
}
