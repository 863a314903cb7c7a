// SPDX-License-Identifier: GPL-2.0-only
/*
 * _xeno: libxeno for Python, the thin part in C.  It wraps a libxeno handle (Handle), the
 * one request path every xend call takes, the console upgrade, and the xl.cfg parser; the
 * Pythonic surface (xeno.Client, records as dicts) is xeno/__init__.py on top of it.
 *
 * Every libxeno call runs with the GIL released (a request may wait for xend), on the
 * handle of the calling Handle object: Python code must not share one Handle between
 * threads, as libxeno says of its handles.  A failure raises xeno.Error, whose message is
 * libxeno's line (xend's own message for an API error) and whose errno is the call's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdlib.h>

#include <xeno/cfg.h>
#include <xeno/xeno.h>

static PyObject *xeno_error; /* xeno.Error */

typedef struct {
	PyObject ob_base; /* PyObject_HEAD, spelt out for clang-format */
	struct xeno *h;
	struct xeno_events *events; /* the handle's event watcher, once events_open() ran */
} Handle;

/* Raises xeno.Error(message) with .errno = -r; returns NULL for the caller to return. */
static PyObject *raise_error(int r, const char *message)
{
	PyObject *e = PyObject_CallFunction(xeno_error, "s", message), *n = PyLong_FromLong(-r);

	if (e && n && PyObject_SetAttrString(e, "errno", n) == 0)
		PyErr_SetObject(xeno_error, e);
	Py_XDECREF(n);
	Py_XDECREF(e);
	return NULL;
}

static struct xeno *handle_of(Handle *self)
{
	if (!self->h)
		PyErr_SetString(PyExc_ValueError, "the handle is closed");
	return self->h;
}

static int Handle_init(Handle *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "socket_path", NULL };
	const char *path = NULL;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|z", kwlist, &path))
		return -1;
	xeno_events_close(self->events);
	self->events = NULL;
	xeno_close(self->h);
	self->h = NULL;
	r = xeno_open(path, &self->h);
	if (r < 0) {
		raise_error(r, r == -ENAMETOOLONG ? "socket path too long" : "out of memory");
		return -1;
	}
	return 0;
}

static void Handle_dealloc(Handle *self)
{
	xeno_events_close(self->events);
	xeno_close(self->h);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Handle_close(Handle *self, PyObject *unused)
{
	(void)unused;
	xeno_events_close(self->events);
	self->events = NULL;
	xeno_close(self->h);
	self->h = NULL;
	Py_RETURN_NONE;
}

static PyObject *Handle_events_open(Handle *self, PyObject *unused)
{
	struct xeno *h = handle_of(self);
	struct xeno_events *w = NULL;
	PyThreadState *ts;
	int r;

	(void)unused;
	if (!h)
		return NULL;
	ts = PyEval_SaveThread();
	r = xeno_events_open(h, &w);
	PyEval_RestoreThread(ts);
	if (r < 0)
		return raise_error(r, xeno_errmsg(h));
	xeno_events_close(self->events);
	self->events = w;
	Py_RETURN_NONE;
}

static PyObject *Handle_events_next(Handle *self, PyObject *args)
{
	struct xeno *h = handle_of(self);
	struct xeno_event e;
	PyThreadState *ts;
	int timeout_ms, r;

	if (!h || !PyArg_ParseTuple(args, "i", &timeout_ms))
		return NULL;
	if (!self->events) {
		PyErr_SetString(PyExc_ValueError, "no event watcher: call events_open() first");
		return NULL;
	}
	ts = PyEval_SaveThread();
	r = xeno_events_next(self->events, timeout_ms, &e);
	PyEval_RestoreThread(ts);
	if (r < 0)
		return raise_error(r, xeno_errmsg(h));
	if (r == 0)
		Py_RETURN_NONE;
	return Py_BuildValue("{s:K,s:d,s:s,s:I,s:s,s:s,s:s}", "seq", (unsigned long long)e.seq,
	                     "time", e.time, "event", e.event, "domid", e.domid, "name", e.name,
	                     "state", e.state, "reason", e.reason);
}

static PyObject *Handle_request(Handle *self, PyObject *args)
{
	const char *method, *path, *body = NULL;
	struct xeno *h = handle_of(self);
	char *answer = NULL;
	PyThreadState *ts;
	PyObject *ret;
	int r;

	if (!h || !PyArg_ParseTuple(args, "ss|z", &method, &path, &body))
		return NULL;
	ts = PyEval_SaveThread();
	r = xeno_request(h, method, path, body, &answer);
	PyEval_RestoreThread(ts);
	if (r < 0)
		return raise_error(r, xeno_errmsg(h));
	ret = PyUnicode_FromString(answer ? answer : "");
	free(answer);
	return ret;
}

static PyObject *Handle_console_open(Handle *self, PyObject *args)
{
	struct xeno *h = handle_of(self);
	const char *dom;
	PyThreadState *ts;
	int fd = -1, r;

	if (!h || !PyArg_ParseTuple(args, "s", &dom))
		return NULL;
	ts = PyEval_SaveThread();
	r = xeno_console_open(h, dom, &fd);
	PyEval_RestoreThread(ts);
	if (r < 0)
		return raise_error(r, xeno_errmsg(h));
	return PyLong_FromLong(fd);
}

/* The save itself, through libxeno's own time limit (a save may take minutes). */
static PyObject *Handle_save(Handle *self, PyObject *args)
{
	struct xeno *h = handle_of(self);
	struct xeno_save_info info;
	const char *dom, *path;
	PyThreadState *ts;
	int checkpoint = 0, r;

	if (!h || !PyArg_ParseTuple(args, "ss|p", &dom, &path, &checkpoint))
		return NULL;
	ts = PyEval_SaveThread();
	r = xeno_domain_save(h, dom, path, checkpoint ? XENO_SAVE_CHECKPOINT : 0, &info);
	PyEval_RestoreThread(ts);
	if (r < 0)
		return raise_error(r, xeno_errmsg(h));
	return Py_BuildValue("{s:s,s:K,s:K,s:K}", "path", path, "file_bytes",
	                     (unsigned long long)info.file_bytes, "memory_bytes",
	                     (unsigned long long)info.memory_bytes, "ms",
	                     (unsigned long long)info.ms);
}

static PyObject *Handle_restore(Handle *self, PyObject *args)
{
	struct xeno_restore_opts opts = { 0 };
	struct xeno *h = handle_of(self);
	struct xeno_domain_info info;
	int paused = 0, fast = 0, copy = 0, r;
	PyThreadState *ts;
	const char *path;

	if (!h || !PyArg_ParseTuple(args, "s|pzpp", &path, &paused, &opts.name, &fast, &copy))
		return NULL;
	opts.paused = paused;
	opts.fast = fast;
	opts.copy = copy;
	ts = PyEval_SaveThread();
	r = xeno_domain_restore(h, path, &opts, &info);
	PyEval_RestoreThread(ts);
	if (r < 0)
		return raise_error(r, xeno_errmsg(h));
	xeno_domain_info_fini(&info);
	return PyLong_FromUnsignedLong(info.id);
}

static PyObject *Handle_socket_path(Handle *self, void *closure)
{
	struct xeno *h = handle_of(self);

	(void)closure;
	return h ? PyUnicode_FromString(xeno_socket_path(h)) : NULL;
}

static PyMethodDef handle_methods[] = {
	{ "request", (PyCFunction)Handle_request, METH_VARARGS,
	  "request(method, path, body_json=None) -> str\n\n"
	  "One call of xend's API (docs/api.md); returns the answer's JSON text." },
	{ "console_open", (PyCFunction)Handle_console_open, METH_VARARGS,
	  "console_open(dom) -> int\n\nA connected socket's descriptor carrying the console." },
	{ "events_open", (PyCFunction)Handle_events_open, METH_NOARGS,
	  "events_open() -> None\n\nStarts watching domain events from now (one watcher per "
	  "handle; a second call starts again)." },
	{ "events_next", (PyCFunction)Handle_events_next, METH_VARARGS,
	  "events_next(timeout_ms) -> dict or None\n\nThe next event, waiting at most timeout_ms "
	  "(-1: no limit); None when the time ran out." },
	{ "save", (PyCFunction)Handle_save, METH_VARARGS,
	  "save(dom, path, checkpoint=False) -> dict\n\nSaves the domain to path (absolute); "
	  "returns path, file_bytes, memory_bytes and ms." },
	{ "restore", (PyCFunction)Handle_restore, METH_VARARGS,
	  "restore(path, paused=False, name=None, fast=False, copy=False) -> int\n\n"
	  "Restores the domain saved in path (absolute); returns its new id." },
	{ "close", (PyCFunction)Handle_close, METH_NOARGS, "Frees the libxeno handle." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef handle_getset[] = {
	{ "socket_path", (getter)Handle_socket_path, NULL, "The socket xend listens on.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

/* PyVarObject_HEAD_INIT() ends in a comma of its own. */
static PyTypeObject HandleType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xeno._xeno.Handle",
	.tp_doc = "Handle(socket_path=None): a libxeno handle on one xend.",
	.tp_basicsize = sizeof(Handle),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Handle_init,
	.tp_dealloc = (destructor)Handle_dealloc,
	.tp_methods = handle_methods,
	.tp_getset = handle_getset,
};

/* config_json(path, overrides=()) -> str: xm create's reading of a config file. */
static PyObject *config_json(PyObject *module, PyObject *args)
{
	PyObject *overrides = NULL, *empty = NULL, *seq, *ret = NULL;
	struct xeno_cfg *cfg = NULL;
	char *json = NULL, *error = NULL;
	const char *path;
	int r;

	(void)module;
	if (!PyArg_ParseTuple(args, "s|O", &path, &overrides))
		return NULL;
	if (!overrides || overrides == Py_None)
		overrides = empty = PyTuple_New(0);
	seq = overrides ? PySequence_Fast(overrides, "overrides: a sequence of 'key=value' strings")
	                : NULL;
	Py_XDECREF(empty);
	if (!seq)
		return NULL;
	r = xeno_cfg_parse_file(path, &cfg, &error);
	for (Py_ssize_t i = 0; r == 0 && i < PySequence_Fast_GET_SIZE(seq); i++) {
		const char *a = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));

		if (!a)
			goto out;
		r = xeno_cfg_set(cfg, a, &error);
	}
	if (r == 0)
		r = xeno_cfg_domain_json(cfg, &json, &error);
	ret = r < 0 ? raise_error(r, error ? error : "cannot read the config")
	            : PyUnicode_FromString(json);
out:
	Py_DECREF(seq);
	xeno_cfg_free(cfg);
	free(json);
	free(error);
	return ret;
}

static PyObject *path_escape(PyObject *module, PyObject *args)
{
	const char *s;
	char *e;
	PyObject *ret;

	(void)module;
	if (!PyArg_ParseTuple(args, "s", &s))
		return NULL;
	e = xeno_path_escape(s);
	if (!e)
		return PyErr_NoMemory();
	ret = PyUnicode_FromString(e);
	free(e);
	return ret;
}

static PyMethodDef module_methods[] = {
	{ "config_json", config_json, METH_VARARGS,
	  "config_json(path, overrides=()) -> str\n\n"
	  "Reads an xl.cfg domain config as `xm create` does, with 'key=value' overrides, and "
	  "returns the domain config JSON that xend takes." },
	{ "path_escape", path_escape, METH_VARARGS,
	  "path_escape(s) -> str: s percent-encoded as one URL path segment." },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef xeno_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "xeno._xeno",
	.m_doc = "libxeno's C half; use the xeno package.",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__xeno(void);

PyMODINIT_FUNC PyInit__xeno(void)
{
	PyObject *m;

	if (PyType_Ready(&HandleType) < 0)
		return NULL;
	m = PyModule_Create(&xeno_module);
	if (!m)
		return NULL;
	xeno_error = PyErr_NewExceptionWithDoc(
	        "xeno.Error",
	        "A failed call: str() is libxeno's message (xend's own for an API error), "
	        ".errno the errno it maps to.",
	        NULL, NULL);
	if (!xeno_error || PyModule_AddObjectRef(m, "Error", xeno_error) < 0 ||
	    PyModule_AddObjectRef(m, "Handle", (PyObject *)&HandleType) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
