/*
 * zstsr's VapourSynth shim: registers the `zstsr` namespace so that a .vpy script can call
 * `core.zstsr.Upsample(clip, 8)` without importing anything. The filter itself is Python
 * (vs_zstsr.filter); this library only forwards to it.
 *
 *   Upsample(clip:vnode;factor:int:opt;...)
 *       The arguments of vs_zstsr.filter.upsample: when the plugin is loaded, the shim asks
 *       Python for them (vs_zstsr.filter.shim_signature(), made from that function's signature),
 *       so an option added to the Python filter needs no change here (tests/test_filter.py checks
 *       the registered string). Without an importable vs_zstsr it registers FALLBACK_ARGS, and
 *       Upsample then says why it cannot run. If this core has no implementation yet, imports
 *       vs_zstsr.filter through the Python C API and calls its _register_core(), which calls
 *       SetImpl on the current core. Then calls the stored implementation with the same
 *       arguments and returns its clip.
 *   SetImpl(impl:func;)
 *       Stores the implementation for this core (VapourSynthPluginInit2 runs once per core, so
 *       each core has its own State).
 *
 * No link to libpython: its symbols are looked up with dlsym(RTLD_DEFAULT) at the first call.
 * vspipe's libvsscript loads libpython with RTLD_GLOBAL, and the python executable exports them.
 * A host without an embedded Python (a C program using libvapoursynth directly) gets an error.
 * The GIL is not held when a plugin function is entered from Python (Function.__call__ releases
 * it), so every use of the Python API is wrapped in PyGILState_Ensure/Release.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "VapourSynth4.h"

#define PY_MODULE "vs_zstsr.filter"
#define PY_REGISTER "_register_core"
#define PY_SIGNATURE "shim_signature"
/* Registered when Python cannot give the arguments: Upsample(clip, factor) then reports why. */
#define FALLBACK_ARGS "clip:vnode;factor:int:opt;"

/* ---- the few Python C API functions we need, found at run time ---- */
typedef void PyObject;
typedef int (*f_int_void)(void);
typedef int (*f_gil_ensure)(void);
typedef void (*f_gil_release)(int);
typedef PyObject *(*f_import)(const char *);
typedef PyObject *(*f_getattr)(PyObject *, const char *);
typedef PyObject *(*f_call_noargs)(PyObject *);
typedef void (*f_decref)(PyObject *);
typedef void (*f_fetch)(PyObject **, PyObject **, PyObject **);
typedef void (*f_normalize)(PyObject **, PyObject **, PyObject **);
typedef PyObject *(*f_str)(PyObject *);
typedef const char *(*f_utf8)(PyObject *);
typedef void (*f_clear)(void);

typedef struct {
    f_int_void is_initialized;
    f_gil_ensure gil_ensure;
    f_gil_release gil_release;
    f_import import_module;
    f_getattr getattr_string;
    f_call_noargs call_noargs;
    f_decref decref;
    f_fetch err_fetch;
    f_normalize err_normalize;
    f_str object_str;
    f_utf8 as_utf8;
    f_clear err_clear;
} PyApi;

static PyApi py;
static int py_state = 0; /* 0 not looked up, 1 found, -1 missing */
static pthread_mutex_t py_lock = PTHREAD_MUTEX_INITIALIZER;

static int load_python_api(void) {
    pthread_mutex_lock(&py_lock);
    if (py_state == 0) {
        py.is_initialized = (f_int_void)dlsym(RTLD_DEFAULT, "Py_IsInitialized");
        py.gil_ensure = (f_gil_ensure)dlsym(RTLD_DEFAULT, "PyGILState_Ensure");
        py.gil_release = (f_gil_release)dlsym(RTLD_DEFAULT, "PyGILState_Release");
        py.import_module = (f_import)dlsym(RTLD_DEFAULT, "PyImport_ImportModule");
        py.getattr_string = (f_getattr)dlsym(RTLD_DEFAULT, "PyObject_GetAttrString");
        py.call_noargs = (f_call_noargs)dlsym(RTLD_DEFAULT, "PyObject_CallNoArgs");
        py.decref = (f_decref)dlsym(RTLD_DEFAULT, "Py_DecRef");
        py.err_fetch = (f_fetch)dlsym(RTLD_DEFAULT, "PyErr_Fetch");
        py.err_normalize = (f_normalize)dlsym(RTLD_DEFAULT, "PyErr_NormalizeException");
        py.object_str = (f_str)dlsym(RTLD_DEFAULT, "PyObject_Str");
        py.as_utf8 = (f_utf8)dlsym(RTLD_DEFAULT, "PyUnicode_AsUTF8");
        py.err_clear = (f_clear)dlsym(RTLD_DEFAULT, "PyErr_Clear");
        void **p = (void **)&py;
        int ok = 1;
        for (size_t i = 0; i < sizeof(py) / sizeof(void *); i++)
            if (!p[i]) ok = 0;
        py_state = ok ? 1 : -1;
    }
    int ok = py_state == 1 && py.is_initialized();
    pthread_mutex_unlock(&py_lock);
    return ok;
}

/* The pending Python exception as "Type: message" (clears it). GIL held. */
static void python_error(char *buf, size_t size, const char *what) {
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    py.err_fetch(&type, &value, &tb);
    py.err_normalize(&type, &value, &tb);
    const char *msg = NULL;
    PyObject *s = value ? py.object_str(value) : NULL;
    if (s) msg = py.as_utf8(s);
    if (!msg) py.err_clear();
    snprintf(buf, size, "zstsr.Upsample: %s: %s", what, msg && *msg ? msg : "unknown Python error");
    if (s) py.decref(s);
    if (type) py.decref(type);
    if (value) py.decref(value);
    if (tb) py.decref(tb);
}

/* ---- per-core state ---- */
typedef struct {
    pthread_mutex_t lock;
    VSFunction *impl;
    const VSAPI *vsapi;
    int attached; /* state_free is registered with the core */
} State;

static void VS_CC state_log_noop(int msgType, const char *msg, void *userData);
static void VS_CC state_free(void *userData);

static VSFunction *get_impl(State *st, const VSAPI *vsapi) {
    pthread_mutex_lock(&st->lock);
    VSFunction *f = st->impl ? vsapi->addFunctionRef(st->impl) : NULL;
    pthread_mutex_unlock(&st->lock);
    return f;
}

static void VS_CC set_impl_create(const VSMap *in, VSMap *out, void *userData, VSCore *core, const VSAPI *vsapi) {
    State *st = (State *)userData;
    int err = 0;
    VSFunction *f = vsapi->mapGetFunction(in, "impl", 0, &err);
    if (err || !f) {
        vsapi->mapSetError(out, "zstsr.SetImpl: impl must be a function");
        return;
    }
    pthread_mutex_lock(&st->lock);
    VSFunction *old = st->impl;
    st->impl = f;
    st->vsapi = vsapi;
    int attach = !st->attached;
    st->attached = 1;
    pthread_mutex_unlock(&st->lock);
    if (old) vsapi->freeFunction(old);
    /* the stored function holds a reference into the core; release it when the core goes away */
    if (attach) vsapi->addLogHandler(state_log_noop, state_free, st, core);
}

/* Import vs_zstsr.filter and call its _register_core() (which calls SetImpl on the current core).
 * Returns 0 on success, else writes a message to err. */
static int register_from_python(char *err, size_t size) {
    if (!load_python_api()) {
        snprintf(err, size,
                 "zstsr.Upsample: this host has no embedded Python (Py_IsInitialized %s); the zstsr "
                 "filter is written in Python and needs VapourSynth's Python: run the script with "
                 "vspipe, or from Python",
                 py_state == -1 ? "not found" : "says no");
        return -1;
    }
    int rc = 0;
    int gil = py.gil_ensure();
    PyObject *mod = py.import_module(PY_MODULE);
    if (!mod) {
        python_error(err, size, "cannot import " PY_MODULE);
        rc = -1;
    } else {
        PyObject *fn = py.getattr_string(mod, PY_REGISTER);
        PyObject *res = fn ? py.call_noargs(fn) : NULL;
        if (!res) {
            python_error(err, size, PY_MODULE "." PY_REGISTER "() failed");
            rc = -1;
        }
        if (res) py.decref(res);
        if (fn) py.decref(fn);
        py.decref(mod);
    }
    py.gil_release(gil);
    return rc;
}

/* The argument string from vs_zstsr.filter.shim_signature() (malloc'd), or NULL. */
static char *python_signature(void) {
    if (!load_python_api()) return NULL;
    char *out = NULL;
    int gil = py.gil_ensure();
    PyObject *mod = py.import_module(PY_MODULE);
    PyObject *fn = mod ? py.getattr_string(mod, PY_SIGNATURE) : NULL;
    PyObject *res = fn ? py.call_noargs(fn) : NULL;
    const char *sig = res ? py.as_utf8(res) : NULL;
    if (sig) out = strdup(sig);
    else py.err_clear();
    if (res) py.decref(res);
    if (fn) py.decref(fn);
    if (mod) py.decref(mod);
    py.gil_release(gil);
    return out;
}

static void VS_CC upsample_create(const VSMap *in, VSMap *out, void *userData, VSCore *core, const VSAPI *vsapi) {
    State *st = (State *)userData;
    char msg[1024];
    VSFunction *impl = get_impl(st, vsapi);
    if (!impl) {
        /* The GIL is released while we wait elsewhere, so two threads may both get here: each
         * registers; SetImpl keeps the last, and both are the same function. */
        if (register_from_python(msg, sizeof(msg))) {
            vsapi->mapSetError(out, msg);
            return;
        }
        impl = get_impl(st, vsapi);
        if (!impl) {
            vsapi->mapSetError(out, "zstsr.Upsample: " PY_MODULE "." PY_REGISTER "() did not register an "
                                    "implementation with this core (is this core the current VapourSynth "
                                    "environment's core?)");
            return;
        }
    }
    VSMap *res = vsapi->createMap();
    vsapi->callFunction(impl, in, res); /* the Python binding takes the GIL itself */
    vsapi->freeFunction(impl);
    const char *e = vsapi->mapGetError(res);
    if (e) {
        /* The binding hands back the whole Python traceback; the filter's own errors are one
         * line starting "zstsr: " (vs.Error): pass on just that line when it is there. */
        const char *p = NULL, *q = e;
        while ((q = strstr(q, "zstsr: ")) != NULL) p = q++;
        if (p) {
            size_t len = strcspn(p, "\r\n");
            char line[1024];
            if (len >= sizeof(line)) len = sizeof(line) - 1;
            memcpy(line, p, len);
            line[len] = 0;
            vsapi->mapSetError(out, line);
        } else {
            vsapi->mapSetError(out, e);
        }
        vsapi->freeMap(res);
        return;
    }
    int err = 0;
    VSNode *node = vsapi->mapGetNode(res, "val", 0, &err);
    if (err || !node) node = vsapi->mapGetNode(res, "clip", 0, &err);
    vsapi->freeMap(res);
    if (err || !node) {
        vsapi->mapSetError(out, "zstsr.Upsample: the Python implementation returned no clip");
        return;
    }
    vsapi->mapConsumeNode(out, "clip", node, maReplace);
    (void)core;
}

/* Frees the per-core state when the core goes away: a log handler's free callback is the one
 * hook the API gives a plugin at core destruction. */
static void VS_CC state_log_noop(int msgType, const char *msg, void *userData) {
    (void)msgType; (void)msg; (void)userData;
}

static void VS_CC state_free(void *userData) {
    State *st = (State *)userData;
    pthread_mutex_lock(&st->lock);
    VSFunction *f = st->impl;
    st->impl = NULL;
    pthread_mutex_unlock(&st->lock);
    if (f && st->vsapi) st->vsapi->freeFunction(f);
    /* st itself stays: the core may still hold the registered functions' pointer to it until
     * its plugins are gone, and nothing tells us when that is. */
}

VS_EXTERNAL_API(void) VapourSynthPluginInit2(VSPlugin *plugin, const VSPLUGINAPI *vspapi) {
    State *st = (State *)calloc(1, sizeof(State));
    if (!st) return;
    pthread_mutex_init(&st->lock, NULL);
    vspapi->configPlugin("org.zstsr.upsample", "zstsr",
                         "Zero-shot temporal super-resolution (Across Scales & Across Dimensions)",
                         VS_MAKE_VERSION(1, 0), VAPOURSYNTH_API_VERSION, 0, plugin);
    char *args = python_signature();
    vspapi->registerFunction("Upsample", args ? args : FALLBACK_ARGS, "clip:vnode;", upsample_create, st, plugin);
    free(args);
    vspapi->registerFunction("SetImpl", "impl:func;", "", set_impl_create, st, plugin);
    /* No VSCore here, so the state is tied to the core's lifetime in SetImpl (addLogHandler's free
     * callback). A core on which SetImpl never runs keeps its few bytes of State. */
}
